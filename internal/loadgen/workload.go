package loadgen

import (
	"math"
	"math/rand/v2"
	"strings"
)

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is one chat-completion request of a workload.
type Request struct {
	// Model is the model (or LoRA adapter) name.
	Model string
	// Messages are the chat messages, system prompt first if any.
	Messages []Message
	// MaxTokens is max_tokens: the output length the request asks for.
	MaxTokens int
	// Headers are extra request headers (an x-gateway-inference-objective,
	// say); nil for none.
	Headers map[string]string
}

// Workload draws the requests of a run.
type Workload interface {
	// Next returns the next request, drawing randomness only from rng.
	Next(rng *rand.Rand) Request
}

// Compile-time assertions.
var (
	_ Workload = Mixed{}
	_ Workload = SharedPrefix{}
	_ Workload = LoRA{}
	_ Workload = Tagged{}
)

// Tagged sends a Fraction of Workload's requests with the header Name set to
// Value: a class of traffic, such as the requests of an objective.
type Tagged struct {
	Workload    Workload
	Name, Value string
	Fraction    float64
}

// Next implements [Workload.Next].
func (w Tagged) Next(rng *rand.Rand) Request {
	r := w.Workload.Next(rng)
	if rng.Float64() < w.Fraction {
		r.Headers = map[string]string{w.Name: w.Value}
	}
	return r
}

// LogNormal is a distribution of token counts: log-normal with the given
// median and standard deviation of the logarithm, rounded and clipped to
// [Min, Max]. Sigma 0 always gives the median (clipped).
type LogNormal struct {
	Median   int
	Sigma    float64
	Min, Max int
}

// Draw returns one token count.
func (d LogNormal) Draw(rng *rand.Rand) int {
	v := float64(d.Median)
	if d.Sigma > 0 {
		v *= math.Exp(d.Sigma * rng.NormFloat64())
	}
	n := int(math.Round(v))
	if d.Max > 0 {
		n = min(n, d.Max)
	}
	return max(n, d.Min, 1)
}

// Mixed is a workload of independent requests with varied prompt and output
// lengths: one user message of PromptTokens tokens of random words, asking
// for OutputTokens tokens. Prompts share nothing beyond chance.
type Mixed struct {
	Model        string
	PromptTokens LogNormal
	OutputTokens LogNormal
}

// Next implements [Workload.Next].
func (w Mixed) Next(rng *rand.Rand) Request {
	return Request{
		Model:     w.Model,
		Messages:  []Message{{Role: "user", Content: Text(rng, w.PromptTokens.Draw(rng))}},
		MaxTokens: w.OutputTokens.Draw(rng),
	}
}

// SharedPrefix is GAIE's prefix-cache benchmark shape: Groups system prompts
// of SystemTokens tokens each, every request picking a group uniformly and
// adding a short unique question. The system prompts are fixed by Seed
// (the same for every run and rate); only the questions and the choice of
// group come from the request stream.
type SharedPrefix struct {
	Model          string
	Groups         int
	SystemTokens   int
	QuestionTokens LogNormal
	OutputTokens   LogNormal
	Seed           uint64
}

// Next implements [Workload.Next].
func (w SharedPrefix) Next(rng *rand.Rand) Request {
	g := rng.IntN(max(w.Groups, 1))
	return Request{
		Model: w.Model,
		Messages: []Message{
			{Role: "system", Content: w.SystemPrompt(g)},
			{Role: "user", Content: Text(rng, w.QuestionTokens.Draw(rng))},
		},
		MaxTokens: w.OutputTokens.Draw(rng),
	}
}

// SystemPrompt returns group g's system prompt; equal for equal g.
func (w SharedPrefix) SystemPrompt(g int) string {
	return Text(rand.New(rand.NewPCG(w.Seed, uint64(g))), w.SystemTokens)
}

// LoRA is a workload spread over LoRA adapters: each request names adapter
// i (0-based) of Adapters with probability proportional to 1/(i+1)^Skew
// (Zipf; Skew 0 is uniform), with a Mixed-like prompt and output.
type LoRA struct {
	Adapters     []string
	Skew         float64
	PromptTokens LogNormal
	OutputTokens LogNormal
}

// Next implements [Workload.Next].
func (w LoRA) Next(rng *rand.Rand) Request {
	return Request{
		Model:     w.Adapters[w.pick(rng)],
		Messages:  []Message{{Role: "user", Content: Text(rng, w.PromptTokens.Draw(rng))}},
		MaxTokens: w.OutputTokens.Draw(rng),
	}
}

// Popularity returns the probability of each adapter.
func (w LoRA) Popularity() []float64 {
	p := make([]float64, len(w.Adapters))
	sum := 0.0
	for i := range p {
		p[i] = math.Pow(float64(i+1), -w.Skew)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

func (w LoRA) pick(rng *rand.Rand) int {
	u := rng.Float64()
	for i, p := range w.Popularity() {
		if u < p {
			return i
		}
		u -= p
	}
	return len(w.Adapters) - 1
}

// words are three-letter words: with the leading space each is four
// characters, one token for a BPE tokenizer (and for `aigw sim`'s
// approximation), which keeps the 4 characters per token that GAIE's and our
// prefix hashing assume.
var words = strings.Fields(`the and for are but not you all any can had her was one our out day get has him
his how man new now old see two way who boy did its let put say she too use air art big box car cat cup dog ear
end eye far few fit fun gas god gun hat hot ice job key kid lab law leg lie lot low map mix net oil pay pen pie
pot raw red run sea set sit six sky son sun tax tea ten tie top toy try war win yes yet zoo`)

// Text returns about tokens tokens of random words (four characters each,
// space included, no leading space).
func Text(rng *rand.Rand, tokens int) string {
	var b strings.Builder
	b.Grow(4 * tokens)
	for i := range tokens {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()
}
