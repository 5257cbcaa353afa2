package sim

import (
	"iter"
	"unicode"
	"unicode/utf8"
)

// The simulator cannot ship a real tokenizer, so it counts tokens with a
// deterministic approximation that lands near the ~4 characters per token of
// BPE tokenizers on English text:
//
//   - whitespace attaches to the piece that follows it (" the" is one token);
//   - a run of letters and digits is cut into pieces of at most 4 runes;
//   - every other rune (punctuation, symbols) is a piece of its own, and so is
//     every CJK or other wide rune;
//   - whitespace at the very end of the text is a piece of its own.
//
// A piece's token id is a hash of its bytes, so equal texts give equal ids and
// equal prefix-cache block hashes.

// maxRunesPerPiece is how many letters or digits one token holds at most.
const maxRunesPerPiece = 4

// vocabSize matches Llama 3's vocabulary; ordinary token ids stay below the
// special ids.
const vocabSize = 128000

// Special token ids of the Llama 3 chat template the simulator renders.
const (
	tokBeginOfText   uint32 = 128000
	tokStartHeader   uint32 = 128006
	tokEndHeader     uint32 = 128007
	tokEndOfTurn     uint32 = 128009
	tokDoubleNewline uint32 = 271
)

// pieces yields the token pieces of s as substrings of s, in order.
func pieces(s string) iter.Seq[string] {
	return func(yield func(string) bool) {
		i := 0
		for i < len(s) {
			start := i
			for i < len(s) {
				r, w := decodeRune(s[i:])
				if !unicode.IsSpace(r) {
					break
				}
				i += w
			}
			if i == len(s) {
				yield(s[start:])
				return
			}
			r, w := decodeRune(s[i:])
			i += w
			if isWordRune(r) {
				for n := 1; n < maxRunesPerPiece && i < len(s); n++ {
					r, w := decodeRune(s[i:])
					if !isWordRune(r) {
						break
					}
					i += w
				}
			}
			if !yield(s[start:i]) {
				return
			}
		}
	}
}

// countTokens returns how many pieces s has.
func countTokens(s string) int {
	n := 0
	for range pieces(s) {
		n++
	}
	return n
}

func decodeRune(s string) (rune, int) {
	if s[0] < utf8.RuneSelf {
		return rune(s[0]), 1
	}
	return utf8.DecodeRuneInString(s)
}

// isWordRune reports whether r continues a word piece. Wide scripts (CJK and
// beyond, U+2E80 and up) are one token per rune, as in real tokenizers.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	return r < 0x2E80 && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// tokenID hashes a piece (FNV-1a, 32 bits) into the ordinary vocabulary.
func tokenID(piece string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(piece); i++ {
		h ^= uint32(piece[i])
		h *= 16777619
	}
	return h % vocabSize
}

// promptTokens accumulates a prompt's token count and the chained hashes of
// its full KV-cache blocks, the way vLLM's prefix cache keys blocks: the hash
// of block i covers its token ids and the hash of block i-1, so equal hashes
// mean equal prefixes. The zero value is not usable; see newPromptTokens.
type promptTokens struct {
	blockSize int
	n         int      // tokens so far
	inBlock   int      // tokens in the current, unfinished block
	parent    uint64   // hash of the previous full block (or the seed)
	cur       uint64   // running hash of the current block
	hashes    []uint64 // one per full block
}

// newPromptTokens starts a prompt whose block hashes are salted with the
// adapter name and the request's cache_salt, as vLLM does.
func newPromptTokens(blockSize int, lora, cacheSalt string) promptTokens {
	seed := uint64(14695981039346656037)
	for _, s := range [...]string{lora, "\x00", cacheSalt} {
		for i := 0; i < len(s); i++ {
			seed ^= uint64(s[i])
			seed *= 1099511628211
		}
	}
	return promptTokens{blockSize: blockSize, parent: mix64(seed)}
}

// add appends one token id.
func (p *promptTokens) add(id uint32) {
	if p.inBlock == 0 {
		p.cur = p.parent
	}
	p.cur = (p.cur ^ uint64(id)) * 0x100000001b3
	p.cur = p.cur<<29 | p.cur>>35
	p.inBlock++
	p.n++
	if p.inBlock == p.blockSize {
		h := mix64(p.cur)
		p.hashes = append(p.hashes, h)
		p.parent = h
		p.inBlock = 0
	}
}

// addText appends the tokens of s.
func (p *promptTokens) addText(s string) {
	for piece := range pieces(s) {
		p.add(tokenID(piece))
	}
}

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// addChat renders messages with the Llama 3 chat template and appends the
// tokens: <|begin_of_text|>, then per message <|start_header_id|>role
// <|end_header_id|>\n\n content <|eot_id|>, then the assistant header that
// asks for the generation. Tool definitions are counted as their JSON text in
// the first turn.
func (p *promptTokens) addChat(msgs []chatTurn, tools string) {
	p.add(tokBeginOfText)
	for i, m := range msgs {
		p.add(tokStartHeader)
		p.add(tokenID(m.role))
		p.add(tokEndHeader)
		p.add(tokDoubleNewline)
		if i == 0 && tools != "" {
			p.addText(tools)
		}
		p.addText(m.content)
		p.add(tokEndOfTurn)
	}
	p.add(tokStartHeader)
	p.add(tokenID("assistant"))
	p.add(tokEndHeader)
	p.add(tokDoubleNewline)
}
