// Built once by `make sandbox-languages` to warm the Go build cache the sandbox copies for each build:
// testify and the packages tests use, compiled once instead of per program (6 s a build cold, 0.3 s warm).
package main

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSeed(t *testing.T) {
	assert.Equal(t, "1", strconv.Itoa(int(math.Abs(-1))))
	assert.True(t, sort.IntsAreSorted([]int{1, 2}))
	assert.Equal(t, "a", strings.ToLower(fmt.Sprint("A")))
}
