package sim

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"math/rand/v2"
)

// corpus returns the sentences random mode answers with. Each starts with a
// space so that sentences concatenate into text; the first piece of an answer
// drops it.
func corpus() [12]string {
	return [...]string{
		" The quick brown fox jumps over the lazy dog.",
		" Continuous batching keeps the GPU busy by adding new requests to the running batch at every step.",
		" A prefix cache lets requests that share a system prompt skip most of their prefill.",
		" Time to first token grows with the prompt length and with the time spent waiting in the queue.",
		" Inter-token latency grows slowly as more sequences share each decoding step.",
		" The scheduler admits waiting requests while the batch has room and the KV cache has free blocks.",
		" When the cache runs out of blocks, the newest request is preempted and recomputed later.",
		" Endpoint pickers read queue depth and cache usage from the metrics endpoint every few milliseconds.",
		" LoRA adapters are loaded on demand, and an idle adapter is evicted when all slots are taken.",
		" Testing gateways long before GPUs arrive saves weeks of integration work.",
		" Hello, world! This answer comes from a simulated model server, not from a real language model.",
		" Numbers such as 1, 2, 3 and 42 are tokens too; so are symbols like (, ), [, ] and #.",
	}
}

// randomAnswer draws sentences until it has n pieces.
func randomAnswer(rng *rand.Rand, n int) []string {
	sentences := corpus()
	out := make([]string, 0, n)
	for len(out) < n {
		s := sentences[rng.IntN(len(sentences))]
		for p := range pieces(s) {
			if len(out) == 0 {
				p = p[1:] // no leading space at the start of the answer
			}
			out = append(out, p)
			if len(out) == n {
				break
			}
		}
	}
	return out
}

// echoAnswer returns the pieces of text, at most limit of them, and whether
// it had to cut.
func echoAnswer(text string, limit int) (out []string, cut bool) {
	for p := range pieces(text) {
		if len(out) == limit {
			return out, true
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		out = append(out, "") // a model always generates at least one token
	}
	return out, false
}

// generationLength picks how many tokens a random-mode answer has when the
// request sets neither max_tokens nor ignore_eos: between 16 and 256, as a
// chat model's typical answer.
func generationLength(rng *rand.Rand) int { return 16 + rng.IntN(241) }

// embedding returns a deterministic unit vector of dim float32 derived from
// seed: equal inputs get equal vectors.
func embedding(seed uint64, dim int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	v := make([]float32, dim)
	var norm float64
	for i := range v {
		x := rng.NormFloat64()
		v[i] = float32(x)
		norm += x * x
	}
	scale := float32(1 / math.Sqrt(norm))
	for i := range v {
		v[i] *= scale
	}
	return v
}

// embeddingBase64 encodes v as OpenAI's base64 encoding_format does: the
// little-endian float32 bytes, base64-encoded.
func embeddingBase64(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}
