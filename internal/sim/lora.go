package sim

import (
	"slices"
	"strings"
	"time"
)

// loraSet tracks which LoRA adapters are resident on the simulated GPU (at
// most max, like vLLM's --max-loras slots) and which adapters the running and
// waiting requests use, for vllm:lora_requests_info.
//
// A request whose adapter is not resident can be admitted when a slot is free
// or when some resident adapter is idle (no running request uses it); the
// least recently used idle adapter is evicted and the admitting step pays
// the load time. Otherwise the request stays waiting and the scheduler looks
// at the requests behind it, as vLLM does when the batch already holds
// max-loras adapters.
//
// It is owned by the engine's scheduler goroutine and is not safe for
// concurrent use.
type loraSet struct {
	max      int
	resident []loraSlot
	running  map[string]int
	waiting  map[string]int
	// labels caches the comma-joined running and waiting adapter names.
	labels      [2]string
	labelsDirty bool
	// residentDirty is set when an adapter is loaded or evicted.
	residentDirty bool
}

type loraSlot struct {
	name     string
	running  int
	lastUsed time.Duration
}

func newLoRASet(maxLoRAs int) *loraSet {
	return &loraSet{max: maxLoRAs, running: map[string]int{}, waiting: map[string]int{}}
}

func (l *loraSet) slot(name string) int {
	return slices.IndexFunc(l.resident, func(s loraSlot) bool { return s.name == name })
}

// canActivate reports whether a request for name can join the batch now.
func (l *loraSet) canActivate(name string) bool {
	if name == "" || l.slot(name) >= 0 || len(l.resident) < l.max {
		return true
	}
	return slices.ContainsFunc(l.resident, func(s loraSlot) bool { return s.running == 0 })
}

// activate counts a request for name as running and reports whether its
// adapter had to be loaded. The caller has checked canActivate.
func (l *loraSet) activate(name string, now time.Duration) (loaded bool) {
	if name == "" {
		return false
	}
	i := l.slot(name)
	if i < 0 {
		if len(l.resident) >= l.max {
			victim := -1
			for j, s := range l.resident {
				if s.running == 0 && (victim < 0 || s.lastUsed < l.resident[victim].lastUsed) {
					victim = j
				}
			}
			l.resident = slices.Delete(l.resident, victim, victim+1)
		}
		l.resident = append(l.resident, loraSlot{name: name})
		l.residentDirty = true
		i = len(l.resident) - 1
		loaded = true
	}
	l.resident[i].running++
	l.resident[i].lastUsed = now
	l.running[name]++
	l.labelsDirty = true
	return loaded
}

// release counts a request for name as no longer running.
func (l *loraSet) release(name string, now time.Duration) {
	if name == "" {
		return
	}
	if i := l.slot(name); i >= 0 {
		l.resident[i].running--
		l.resident[i].lastUsed = now
	}
	decrement(l.running, name)
	l.labelsDirty = true
}

// addWaiting and removeWaiting count requests for name in the waiting queue.
func (l *loraSet) addWaiting(name string) {
	if name != "" {
		l.waiting[name]++
		l.labelsDirty = true
	}
}

func (l *loraSet) removeWaiting(name string) {
	if name != "" {
		decrement(l.waiting, name)
		l.labelsDirty = true
	}
}

// residentNames returns the resident adapters sorted by name.
func (l *loraSet) residentNames() []string {
	names := make([]string, len(l.resident))
	for i, x := range l.resident {
		names[i] = x.name
	}
	slices.Sort(names)
	return names
}

// labelValues returns the running_lora_adapters and waiting_lora_adapters
// label values: sorted, comma-separated adapter names.
func (l *loraSet) labelValues() (running, waiting string) {
	if l.labelsDirty {
		l.labels = [2]string{joinKeys(l.running), joinKeys(l.waiting)}
		l.labelsDirty = false
	}
	return l.labels[0], l.labels[1]
}

func decrement(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

func joinKeys(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}
