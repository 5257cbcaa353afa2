package app

import (
	"fmt"
	"strings"

	"github.com/aigw-dev/aigw/internal/standalone"
)

// truncationGuard keeps a reload from dropping the resources of a file
// that an editor has truncated and not yet written: a file that held
// documents in the running configuration and now holds none rejects the
// reload (the old configuration stays, and the write that follows reloads
// again). Deleting a file is how its resources are removed on purpose.
// Reloads run one at a time, from the watcher: it is not safe for
// concurrent use.
type truncationGuard struct {
	withDocuments map[string]bool
}

// newTruncationGuard starts from the load in force.
func newTruncationGuard(res *standalone.Result) *truncationGuard {
	g := &truncationGuard{}
	g.accept(res)
	return g
}

// check returns an error when res lost every document of a file that had
// some.
func (g *truncationGuard) check(res *standalone.Result) error {
	var emptied []string
	for _, f := range res.EmptyFiles {
		if g.withDocuments[f] {
			emptied = append(emptied, f)
		}
	}
	if len(emptied) == 0 {
		return nil
	}
	return fmt.Errorf("%s: now empty, its resources would all be dropped (an editor between truncate and write?); delete the file to remove them", strings.Join(emptied, ", "))
}

// accept records res as the load in force.
func (g *truncationGuard) accept(res *standalone.Result) {
	g.withDocuments = make(map[string]bool, len(res.Files))
	for _, f := range res.Files {
		g.withDocuments[f] = true
	}
	for _, f := range res.EmptyFiles {
		delete(g.withDocuments, f)
	}
}
