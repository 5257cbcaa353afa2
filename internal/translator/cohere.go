package translator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/llm"
)

// defaultCohereVersion is the API version of Cohere's paths when the
// schema names none.
const defaultCohereVersion = "v2"

// cohereRerank passes Cohere Rerank requests (the /cohere/v2 front door)
// to a Cohere backend: the path gets the schema's version, the model may
// be overridden, and usage is read from the answer's meta.
type cohereRerank struct {
	version string
	opts    Options

	status   int
	body     bodyBuffer
	usage    llm.Usage
	model    string
	complete bool
}

func newCohereRerank(schema config.Schema, opts Options) *cohereRerank {
	v := strings.Trim(schema.Version, "/")
	if v == "" {
		v = defaultCohereVersion
	}
	return &cohereRerank{version: v, opts: opts}
}

// Request implements [Translator.Request].
func (t *cohereRerank) Request(req *llm.Request) (*Upstream, error) {
	up := &Upstream{Path: "/" + t.version + "/rerank", Body: req.Body}
	t.model = req.Model
	if t.opts.ModelOverride == "" || t.opts.ModelOverride == req.Model {
		return up, nil
	}
	t.model = t.opts.ModelOverride
	obj := t.opts.Parsed
	if obj == nil {
		var err error
		if obj, err = jsonobj.Parse(req.Body); err != nil {
			return nil, fmt.Errorf("re-reading request body: %w", err)
		}
	} else {
		obj = obj.Clone()
	}
	obj.Set("model", jsonString(t.model))
	up.Body, up.Object = obj.Bytes(), obj
	return up, nil
}

// ResponseHeaders implements [Translator.ResponseHeaders].
func (t *cohereRerank) ResponseHeaders(status int, _ http.Header) error {
	t.status = status
	return nil
}

// ResponseBody implements [Translator.ResponseBody]: the bytes pass as they
// came; usage is read at the end.
func (t *cohereRerank) ResponseBody(chunk []byte, eos bool) ([]byte, error) {
	t.body.add(chunk)
	if !eos {
		return chunk, nil
	}
	t.complete = true
	if body := t.body.take(); t.status < 300 && len(body) > 0 {
		var r struct {
			Meta struct {
				BilledUnits struct {
					InputTokens  int64 `json:"input_tokens"`
					OutputTokens int64 `json:"output_tokens"`
				} `json:"billed_units"`
				Tokens *struct {
					InputTokens  int64 `json:"input_tokens"`
					OutputTokens int64 `json:"output_tokens"`
				} `json:"tokens"`
			} `json:"meta"`
		}
		if json.Unmarshal(body, &r) == nil {
			in, out := r.Meta.BilledUnits.InputTokens, r.Meta.BilledUnits.OutputTokens
			if tk := r.Meta.Tokens; tk != nil {
				in, out = tk.InputTokens, tk.OutputTokens
			}
			t.usage = llm.Usage{InputTokens: in, OutputTokens: out, TotalTokens: in + out}
		}
	}
	return chunk, nil
}

// Usage implements [Translator.Usage].
func (t *cohereRerank) Usage() llm.Usage { return t.usage }

// ResponseModel implements [Translator.ResponseModel].
func (t *cohereRerank) ResponseModel() string { return t.model }

// Complete implements [Translator.Complete].
func (t *cohereRerank) Complete() bool { return t.complete }
