package eppserver

import (
	"fmt"
	"testing"
)

func TestModelLabelsAreBounded(t *testing.T) {
	var l modelLabels
	for i := range MaxModelLabels {
		name := fmt.Sprintf("model-%d", i)
		if got := l.label(name); got != name {
			t.Fatalf("label(%q) = %q within the bound", name, got)
		}
	}
	if got := l.label("one-too-many"); got != OtherModelLabel {
		t.Fatalf("label beyond the bound = %q, want %q", got, OtherModelLabel)
	}
	if got := l.label("model-7"); got != "model-7" {
		t.Fatalf("a kept name became %q", got)
	}
	if got := l.label(""); got != "" {
		t.Fatalf("the empty name became %q", got)
	}
}
