package bodybudget

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBudget(t *testing.T) {
	b := New(10)
	require.True(t, b.Charge(6))
	require.False(t, b.Charge(5), "over the limit: nothing taken")
	require.Equal(t, int64(6), b.Used())
	require.True(t, b.Charge(4))
	require.True(t, b.Exhausted())
	b.Release(10)
	require.Zero(t, b.Used())
	require.False(t, b.Exhausted())
}

func TestBudgetConcurrent(t *testing.T) {
	b := New(1000)
	var wg sync.WaitGroup
	var taken [8]int64
	for i := range taken {
		wg.Go(func() {
			for range 1000 {
				if b.Charge(3) {
					taken[i] += 3
				}
			}
		})
	}
	wg.Wait()
	var sum int64
	for _, n := range taken {
		sum += n
	}
	require.Equal(t, sum, b.Used(), "every charge is accounted once")
	require.LessOrEqual(t, b.Used(), int64(1000))
}
