package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce groups the bursts of events one save produces.
const debounce = 150 * time.Millisecond

// watcher calls onChange after the watched files change. It watches their
// directories, so editors that replace a file by renaming are seen too.
type watcher struct {
	w        *fsnotify.Watcher
	files    map[string]bool
	logger   *slog.Logger
	onChange func(context.Context)
}

func newWatcher(files []string, logger *slog.Logger, onChange func(context.Context)) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching configuration: %w", err)
	}
	w := &watcher{w: fw, files: map[string]bool{}, logger: logger, onChange: onChange}
	dirs := map[string]bool{}
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			continue
		}
		w.files[abs] = true
		dirs[filepath.Dir(abs)] = true
	}
	for d := range dirs {
		if err := fw.Add(d); err != nil {
			_ = fw.Close()
			return nil, fmt.Errorf("watching %s: %w", d, err)
		}
	}
	return w, nil
}

func (w *watcher) run(ctx context.Context) {
	defer w.w.Close()
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			abs, _ := filepath.Abs(ev.Name)
			if !w.files[abs] && filepath.Ext(abs) != ".yaml" && filepath.Ext(abs) != ".yml" {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(debounce)
			} else {
				timer.Reset(debounce)
			}
			fire = timer.C
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			w.logger.Warn("configuration watcher", "error", err)
		case <-fire:
			fire = nil
			w.onChange(ctx)
		}
	}
}
