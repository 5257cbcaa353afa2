package k8s

import (
	"os"
	"testing"

	"github.com/aigw-dev/aigw/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.ReexecInNetNS(m)) }
