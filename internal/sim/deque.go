package sim

// deque is a ring-buffer double-ended queue. The zero value is empty and
// ready to use. It is not safe for concurrent use.
type deque[T any] struct {
	buf  []T
	head int
	n    int
}

func (d *deque[T]) len() int { return d.n }

func (d *deque[T]) at(i int) T { return d.buf[(d.head+i)%len(d.buf)] }

func (d *deque[T]) grow() {
	if d.n < len(d.buf) {
		return
	}
	buf := make([]T, max(16, 2*len(d.buf)))
	for i := range d.n {
		buf[i] = d.at(i)
	}
	d.buf, d.head = buf, 0
}

func (d *deque[T]) pushBack(v T) {
	d.grow()
	d.buf[(d.head+d.n)%len(d.buf)] = v
	d.n++
}

func (d *deque[T]) pushFront(v T) {
	d.grow()
	d.head = (d.head - 1 + len(d.buf)) % len(d.buf)
	d.buf[d.head] = v
	d.n++
}

// removeAt removes and returns element i, shifting the elements after it.
func (d *deque[T]) removeAt(i int) T {
	v := d.at(i)
	var zero T
	if i == 0 {
		d.buf[d.head] = zero
		d.head = (d.head + 1) % len(d.buf)
		d.n--
		return v
	}
	for j := i; j < d.n-1; j++ {
		d.buf[(d.head+j)%len(d.buf)] = d.at(j + 1)
	}
	d.buf[(d.head+d.n-1)%len(d.buf)] = zero
	d.n--
	return v
}

// filter keeps the elements for which keep returns true, in order.
func (d *deque[T]) filter(keep func(T) bool) {
	var zero T
	k := 0
	for i := range d.n {
		v := d.at(i)
		if keep(v) {
			d.buf[(d.head+k)%len(d.buf)] = v
			k++
		}
	}
	for i := k; i < d.n; i++ {
		d.buf[(d.head+i)%len(d.buf)] = zero
	}
	d.n = k
}
