package jsonscan

import "testing"

// BenchmarkWalkEvent walks a Gemini stream event as the translator reads
// one: into the candidates, their content's parts and the usage counts,
// taking the scalars it needs.
func BenchmarkWalkEvent(b *testing.B) {
	event := []byte(`{"candidates": [{"content": {"role": "model","parts": [{"text": "word "}]},"index": 0}],"usageMetadata": {"promptTokenCount": 900,"candidatesTokenCount": 5,"totalTokenCount": 905},"modelVersion": "gemini-2.5-flash","responseId": "r1"}`)
	b.SetBytes(int64(len(event)))
	var taken int
	take := func(v Value) error {
		r, err := v.Raw()
		taken += len(r)
		return err
	}
	for b.Loop() {
		err := Walk(event, func(v Value) error {
			return v.Object(func(k []byte, v Value) error {
				switch string(k) {
				case "candidates":
					return v.Array(func(v Value) error {
						return v.Object(func(k []byte, v Value) error {
							switch string(k) {
							case "content":
								return v.Object(func(k []byte, v Value) error {
									if string(k) != "parts" {
										return nil
									}
									return v.Array(func(v Value) error {
										return v.Object(func(k []byte, v Value) error { return take(v) })
									})
								})
							case "index":
								return take(v)
							}
							return nil
						})
					})
				case "usageMetadata":
					return v.Object(func(k []byte, v Value) error { return take(v) })
				case "modelVersion", "responseId":
					return take(v)
				}
				return nil
			})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
