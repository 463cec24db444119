package registry

import (
	"os"
	"testing"

	"github.com/swarmops/swarmops/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
