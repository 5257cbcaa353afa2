package pool

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/scheduler"
)

func TestBodyModel(t *testing.T) {
	for body, want := range map[string]string{
		`{"model":"m"}`: "m",
		`{"x":[1,{"model":"inner"}],"model":"outer"}`: "outer",
		`{"model":"first","model":"second"}`:          "first",
		`{"model":42}`:                                "",
		`{"model":"caf\u00e9"}`:                       "café",
		`not json`:                                    "",
		`{"x":1}`:                                     "",
	} {
		require.Equal(t, want, bodyModel([]byte(body)), body)
	}
}

func TestRefusalError(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("%w: 2 candidates", scheduler.ErrSaturated), http.StatusTooManyRequests, "pool_saturated"},
		{fmt.Errorf("%w: 3 requests queued", scheduler.ErrQueueFull), http.StatusTooManyRequests, "queue_full"},
		{scheduler.ErrQueueTimeout, http.StatusServiceUnavailable, "service_unavailable"},
	} {
		r := RefusalError(tc.err)
		require.NotNil(t, r, tc.err)
		require.Equal(t, tc.status, r.Status)
		require.Equal(t, tc.code, r.Code)
		require.ErrorIs(t, r, tc.err, "the reason stays the cause")
	}
	require.Nil(t, RefusalError(context.Canceled))
	require.Nil(t, RefusalError(scheduler.ErrNoEndpoints))
}
