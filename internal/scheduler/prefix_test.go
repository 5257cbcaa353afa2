package scheduler

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"
)

// refHash recomputes §6.4's chain independently of hashPrompt, with
// one-shot xxhash.Sum64 over concatenated bytes.
func refHash(model, salt, prompt string, blockChars, maxBlocks int) []uint64 {
	if len(prompt) < blockChars {
		return nil
	}
	prev := xxhash.Sum64([]byte(model + salt))
	var out []uint64
	for i := 0; i < maxBlocks && (i+1)*blockChars <= len(prompt); i++ {
		buf := []byte(prompt[i*blockChars : (i+1)*blockChars])
		buf = binary.LittleEndian.AppendUint64(buf, prev)
		prev = xxhash.Sum64(buf)
		out = append(out, prev)
	}
	return out
}

type hashCase struct {
	Name       string   `json:"name"`
	Model      string   `json:"model"`
	Salt       string   `json:"salt,omitempty"`
	Prompt     string   `json:"prompt"`
	BlockChars int      `json:"blockChars"`
	MaxBlocks  int      `json:"maxBlocks"`
	Hashes     []string `json:"hashes"`
}

func hashCases() []hashCase {
	sys := `[{"role":"system","content":"You are a helpful assistant. Answer briefly and cite sources."},{"role":"user","content":"What is the capital of France?"}]`
	return []hashCase{
		{Name: "shorter than a block", Model: "m", Prompt: strings.Repeat("x", 63), BlockChars: 64, MaxBlocks: 256},
		{Name: "exactly one block", Model: "m", Prompt: strings.Repeat("x", 64), BlockChars: 64, MaxBlocks: 256},
		{Name: "partial tail dropped", Model: "m", Prompt: strings.Repeat("ab", 70), BlockChars: 64, MaxBlocks: 256},
		{Name: "chat messages json", Model: "llama-3", Prompt: sys, BlockChars: 64, MaxBlocks: 256},
		{Name: "cache salt changes h0", Model: "llama-3", Salt: "tenant-1", Prompt: sys, BlockChars: 64, MaxBlocks: 256},
		{Name: "other model", Model: "qwen", Prompt: sys, BlockChars: 64, MaxBlocks: 256},
		{Name: "truncated to max blocks", Model: "m", Prompt: strings.Repeat("0123456789", 20), BlockChars: 16, MaxBlocks: 3},
		{Name: "empty model", Prompt: "abcd", BlockChars: 4, MaxBlocks: 1},
	}
}

func TestHashPromptGolden(t *testing.T) {
	cases := hashCases()
	for i := range cases {
		c := &cases[i]
		got := hashPrompt(nil, c.Model, c.Salt, c.Prompt, c.BlockChars, c.MaxBlocks)
		require.Equal(t, refHash(c.Model, c.Salt, c.Prompt, c.BlockChars, c.MaxBlocks), got, c.Name)
		c.Hashes = []string{}
		for _, h := range got {
			c.Hashes = append(c.Hashes, fmt.Sprintf("%016x", h))
		}
	}
	golden(t, "prefix_hashes.json", cases)

	// Properties the golden file must show.
	byName := map[string]hashCase{}
	for _, c := range cases {
		byName[c.Name] = c
	}
	require.Empty(t, byName["shorter than a block"].Hashes)
	require.Len(t, byName["exactly one block"].Hashes, 1)
	require.Len(t, byName["partial tail dropped"].Hashes, 2)
	require.Len(t, byName["truncated to max blocks"].Hashes, 3)
	require.NotEqual(t, byName["chat messages json"].Hashes[0], byName["cache salt changes h0"].Hashes[0])
	require.NotEqual(t, byName["chat messages json"].Hashes[0], byName["other model"].Hashes[0])
}

func TestHashPromptIsPrefixStable(t *testing.T) {
	long := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 40)
	a := hashPrompt(nil, "m", "", long[:640], 64, 256)
	b := hashPrompt(nil, "m", "", long, 64, 256)
	require.Len(t, a, 10)
	require.Equal(t, a, b[:10], "a longer prompt extends, never changes, the chain")
	// Changing one early character changes every later hash.
	c := hashPrompt(nil, "m", "", "X"+long[1:640], 64, 256)
	for i := range a {
		require.NotEqual(t, a[i], c[i], "block %d", i)
	}
}

func TestPrefixIndexGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/prefix_index.json")
	require.NoError(t, err)
	var g struct {
		Capacity int `json:"capacity"`
		Steps    []struct {
			Op       string         `json:"op"`
			Addr     string         `json:"addr"`
			Hashes   []uint64       `json:"hashes"`
			Contents []uint64       `json:"contents"`
			Counts   map[string]int `json:"counts"`
		} `json:"steps"`
	}
	require.NoError(t, json.Unmarshal(raw, &g))
	x := newPrefixIndex(g.Capacity)
	for i, st := range g.Steps {
		msg := fmt.Sprintf("step %d (%s)", i, st.Op)
		switch st.Op {
		case "add":
			x.add(st.Addr, st.Hashes)
			require.Equal(t, st.Contents, x.contents(st.Addr), msg)
		case "match":
			var got map[string]int
			for _, h := range x.match(st.Hashes) {
				if got == nil {
					got = map[string]int{}
				}
				got[h.addr] = h.n
			}
			require.Equal(t, st.Counts, got, msg)
		case "remove":
			x.remove(st.Addr)
		case "contents":
			require.Equal(t, st.Contents, x.contents(st.Addr), msg)
		default:
			t.Fatalf("%s: unknown op", msg)
		}
		// Invariant: holders and the LRUs describe the same relation.
		n := 0
		for h, ids := range x.holders {
			for _, id := range ids {
				require.Contains(t, x.lrus[id].nodes, h, msg)
				n++
			}
		}
		m := 0
		for id, l := range x.lrus {
			if l == nil {
				require.Empty(t, x.addrs[id], msg)
				continue
			}
			require.Equal(t, int32(id), x.ids[x.addrs[id]], msg)
			require.LessOrEqual(t, len(l.nodes), g.Capacity, msg)
			m += len(l.nodes)
		}
		require.Equal(t, m, n, msg)
	}
}
