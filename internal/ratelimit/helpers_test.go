package ratelimit

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/apierror"
)

func asAPIError(t *testing.T, err error) *apierror.Error {
	t.Helper()
	var e *apierror.Error
	require.True(t, errors.As(err, &e), "%v is not an apierror", err)
	return e
}
