package standalone

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aigw-dev/aigw/internal/config"
)

// Result is the outcome of a load.
type Result struct {
	// Config is the compiled configuration; nil when the load failed.
	Config *config.Config
	// Warnings list what the gateway ignored or approximated, in input
	// order. They are filled even when the load fails.
	Warnings []Warning
	// Files are the files read, in the order read (for a file watcher).
	Files []string
	// EmptyFiles are the files of Files that hold no document (empty, or
	// only comments and separators): what a watcher sees of a file an
	// editor has truncated and not yet written.
	EmptyFiles []string
	// Skipped are the errors of resources a controller left out while
	// compiling the rest ([Set.CompileValid]); files never skip.
	Skipped []error
	// Pods is which Pods the compilation read (set by controllers).
	Pods PodSelection
}

// Loader loads configuration files. The zero value reads the process
// environment and the file system; tests set the fields to fix them.
// A Loader holds no state between loads and may be used concurrently.
type Loader struct {
	// LookupEnv resolves ${VAR} references and substitution.aigw.run/env
	// annotations; nil means os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// ReadFile reads configuration files and substitution.aigw.run/file
	// paths; nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// ReadDir lists directories given to Load; nil means os.ReadDir.
	ReadDir func(name string) ([]os.DirEntry, error)
	// HomeDir replaces "~" in substitution.aigw.run/file paths; empty means
	// os.UserHomeDir.
	HomeDir string
}

// Load reads the given files and directories with the process environment;
// see [Loader.Load].
func Load(ctx context.Context, paths ...string) (*Result, error) {
	return (&Loader{}).Load(ctx, paths...)
}

// LoadBytes loads one in-memory file with the process environment; see
// [Loader.LoadBytes].
func LoadBytes(ctx context.Context, name string, data []byte) (*Result, error) {
	return (&Loader{}).LoadBytes(ctx, name, data)
}

// Load reads the given files, and the *.yaml and *.yml files of the given
// directories (not recursively, sorted by name), as multi-document YAML of
// Kubernetes-style resources, and compiles them into one config.Config.
//
// Each file goes through environment substitution before it is parsed (see
// substituteEnv). Every problem is reported, not only the first: the error
// joins one *[Error] per problem (errors.Join), each naming the file, the
// document, the resource and the field. The Result is returned even on
// error, with its Warnings and without a Config.
func (l *Loader) Load(ctx context.Context, paths ...string) (*Result, error) {
	files, err := l.expandPaths(paths)
	if err != nil {
		return &Result{}, err
	}
	ls := l.newState()
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return ls.result(nil), fmt.Errorf("loading configuration: %w", err)
		}
		data, err := l.readFile(f)
		if err != nil {
			ls.d.err(Source{File: f}, nil, err)
			ls.unparsed = true
			continue
		}
		ls.files = append(ls.files, f)
		ls.addFile(ctx, f, data)
	}
	return ls.finish(ctx)
}

// LoadBytes loads data as if it were a file called name (used in messages
// and to resolve relative substitution.aigw.run/file paths). It is how the
// output of [Autoconfig] is loaded.
func (l *Loader) LoadBytes(ctx context.Context, name string, data []byte) (*Result, error) {
	ls := l.newState()
	ls.files = append(ls.files, name)
	ls.addFile(ctx, name, data)
	return ls.finish(ctx)
}

// loadState is the state of one load: the Set the files' resources go to.
type loadState struct {
	*Set
	loader *Loader
	files  []string
	// empty lists the files without any document.
	empty []string
	// documents counts the documents read, parsed or not.
	documents int
}

func (l *Loader) newState() *loadState {
	ls := &loadState{loader: l, Set: NewSet()}
	ls.secretHook = ls.resolveSecret
	return ls
}

func (ls *loadState) lookupEnv(key string) (string, bool) {
	if ls.loader.LookupEnv != nil {
		return ls.loader.LookupEnv(key)
	}
	return os.LookupEnv(key)
}

func (ls *loadState) readFile(name string) ([]byte, error) { return ls.loader.readFile(name) }

func (l *Loader) readFile(name string) ([]byte, error) {
	if l.ReadFile != nil {
		return l.ReadFile(name)
	}
	// The *PathError names the file; #nosec G304: this reads the operator's
	// own configuration.
	return os.ReadFile(name) //nolint:wrapcheck
}

// addFile substitutes the environment in data and decodes its documents.
func (ls *loadState) addFile(ctx context.Context, name string, data []byte) {
	out, issues, err := substituteEnv(data, ls.lookupEnv)
	for _, is := range issues {
		ls.d.warnf(Source{File: name, Line: is.line}, nil, "%s", is.msg)
	}
	if err != nil {
		var se *envSyntaxError
		if errors.As(err, &se) {
			ls.d.errorf(Source{File: name, Line: se.line}, nil, "%s", se.msg)
		} else {
			ls.d.err(Source{File: name}, nil, err)
		}
		ls.unparsed = true
		return
	}
	docs := splitDocuments(out)
	if len(docs) == 0 {
		ls.empty = append(ls.empty, name)
	}
	for _, doc := range docs {
		if ctx.Err() != nil {
			return
		}
		ls.decodeDocument(Source{File: name, Doc: doc.index}, doc)
	}
}

// finish validates and compiles everything decoded so far. When a file or
// document could not be parsed, each resource is still validated on its
// own, but nothing is compiled: its errors come alone, not after warnings
// and errors about references to resources the broken part defines.
func (ls *loadState) finish(ctx context.Context) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return ls.result(nil), fmt.Errorf("loading configuration: %w", err)
	}
	cfg := ls.compile()
	ls.checkNotEmpty()
	ls.sortDiagnostics()
	if ls.d.failed() {
		return ls.result(nil), errors.Join(ls.d.errs...)
	}
	return ls.result(cfg), nil
}

// checkNotEmpty rejects a configuration that defines no resource: an empty
// file is what a watcher sees between an editor's truncate and write, and
// serving it would drop every route until the write lands. A resource that
// fails validation counts (its own error is reported).
func (ls *loadState) checkNotEmpty() {
	if ls.d.failed() || len(ls.store.seen) > 0 {
		return
	}
	src := Source{File: strings.Join(ls.files, ", ")}
	files := "the file is empty or holds only comments"
	if len(ls.files) > 1 {
		files = "the files are empty or hold only comments"
	}
	if ls.documents == 0 {
		ls.d.errorf(src, nil, "no resources: %s (is it being written?); a configuration needs at least one resource", files)
		return
	}
	ls.d.errorf(src, nil, "no resources: every document is ignored (see the warnings); a configuration needs at least one resource")
}

// sortDiagnostics orders errors and warnings by input position (file, then
// line or document); problems found at one position keep their order.
func (ls *loadState) sortDiagnostics() {
	fileIndex := map[string]int{}
	for i, f := range ls.files {
		fileIndex[f] = i
	}
	cmpSource := func(a, b Source) int {
		if c := cmp.Compare(fileIndex[a.File], fileIndex[b.File]); c != 0 {
			return c
		}
		// Line-based problems (substitution) come before documents.
		if c := cmp.Compare(a.Doc, b.Doc); c != 0 {
			return c
		}
		return cmp.Compare(a.Line, b.Line)
	}
	slices.SortStableFunc(ls.d.warns, func(a, b Warning) int { return cmpSource(a.Source, b.Source) })
	slices.SortStableFunc(ls.d.errs, func(a, b error) int {
		var ea, eb *Error
		if !errors.As(a, &ea) || !errors.As(b, &eb) {
			return 0
		}
		return cmpSource(ea.Source, eb.Source)
	})
}

func (ls *loadState) result(cfg *config.Config) *Result {
	return &Result{Config: cfg, Warnings: ls.d.warns, Files: ls.files, EmptyFiles: ls.empty}
}

// expandPaths turns the arguments into the list of files to read.
func (l *Loader) expandPaths(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no configuration file given")
	}
	var files []string
	seen := map[string]bool{}
	add := func(f string) {
		if c := filepath.Clean(f); !seen[c] {
			seen[c] = true
			files = append(files, f)
		}
	}
	for _, p := range paths {
		entries, err := l.readDir(p)
		if err != nil {
			// Not a directory (or not readable as one): read it as a file.
			add(p)
			continue
		}
		var names []string
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
				names = append(names, e.Name())
			}
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("directory %s holds no *.yaml or *.yml file", p)
		}
		slices.Sort(names)
		for _, n := range names {
			add(filepath.Join(p, n))
		}
	}
	return files, nil
}

func (l *Loader) readDir(name string) ([]os.DirEntry, error) {
	if l.ReadDir != nil {
		return l.ReadDir(name)
	}
	return os.ReadDir(name) //nolint:wrapcheck // the *PathError names the directory.
}
