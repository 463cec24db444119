package testenv

import (
	"errors"
	"os"
)

// SlotLock answers this process's slot number and the open file holding its
// lock, allocating the slot if need be. Test binaries of this package
// alone have it: TestSweepAfterCrash's helper hands the file to its parent
// so that no other process can sweep the slot first.
func SlotLock() (int, *os.File, error) {
	s, err := getSlot()
	if err != nil {
		return 0, nil, err
	}
	if s.lock == nil {
		return 0, nil, errors.New("slot has no lock file")
	}
	return s.n, s.lock, nil
}

// CleanSlot removes what a crashed holder left in slot n, exactly as Sweep
// does for a slot whose lock it got; the caller holds the slot's lock.
func CleanSlot(n int, logf func(format string, args ...any)) error {
	return cleanSlot(n, logf, true)
}
