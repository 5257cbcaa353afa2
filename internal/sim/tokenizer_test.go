package sim

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPieces(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Hello", []string{"Hell", "o"}},
		{"Hello, world!", []string{"Hell", "o", ",", " worl", "d", "!"}},
		{"the cat", []string{"the", " cat"}},
		{"  indented\n\nnext ", []string{"  inde", "nted", "\n\nnext", " "}},
		{"a1b2c3", []string{"a1b2", "c3"}},
		{"héllo", []string{"héll", "o"}},
		{"日本語", []string{"日", "本", "語"}},
		{"x<y>&z", []string{"x", "<", "y", ">", "&", "z"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := slices.Collect(pieces(tc.in))
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.in, strings.Join(got, ""), "pieces must cover the text")
			assert.Len(t, got, countTokens(tc.in))
		})
	}
}

func TestTokenizerAboutFourCharsPerToken(t *testing.T) {
	text := strings.Repeat("Continuous batching keeps the accelerator busy by adding requests at every step. ", 50)
	ratio := float64(len(text)) / float64(countTokens(text))
	assert.InDelta(t, 4.0, ratio, 1.0, "chars per token")
}

func TestPromptTokensChainedHashes(t *testing.T) {
	hashes := func(lora, salt, text string) []uint64 {
		p := newPromptTokens(4, lora, salt)
		p.addText(text)
		return p.hashes
	}
	shared := "one two three four five six seven eight nine ten"
	a := hashes("", "", shared+" alpha beta gamma delta")
	b := hashes("", "", shared+" omega psi chi phi")
	require.GreaterOrEqual(t, len(a), 4)
	require.GreaterOrEqual(t, len(b), 4)
	sharedBlocks := countTokens(shared) / 4
	assert.Equal(t, a[:sharedBlocks], b[:sharedBlocks], "a shared prefix gives equal block hashes")
	assert.NotEqual(t, a[len(a)-1], b[len(b)-1], "different suffixes give different hashes")

	other := hashes("", "", "zero "+shared)
	assert.NotEqual(t, a[1], other[1], "hashes are chained: a different first block changes later ones")
	assert.NotEqual(t, a[0], hashes("adapter", "", shared)[0], "the adapter salts the hashes")
	assert.NotEqual(t, a[0], hashes("", "salt", shared)[0], "cache_salt salts the hashes")

	p := newPromptTokens(4, "", "")
	p.addText("one two six")
	assert.Equal(t, 3, p.n)
	assert.Empty(t, p.hashes, "no hash before a block is full")
}

func TestAddChatCountsTemplateTokens(t *testing.T) {
	p := newPromptTokens(16, "", "")
	p.addChat([]chatTurn{{role: "system", content: "Be brief."}, {role: "user", content: "Hi"}}, "")
	// <|begin_of_text|> + 2 × (4 header tokens + content + <|eot_id|>) + 4 generation-prompt tokens.
	want := 1 + (5 + countTokens("Be brief.")) + (5 + countTokens("Hi")) + 4
	assert.Equal(t, want, p.n)
}
