package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// chunkRows is how many CSV rows travel together between the reader, the
// workers and the writer.
const chunkRows = 256

type csvChunk struct {
	seq   int
	rows  [][]string
	lines []int
	skip  []string // per row: why it is left out ("" keeps it)
	err   error    // fatal, after the rows before it
}

// pipeline streams the CSV rows of r to w, converting column col with conv
// on GOMAXPROCS workers and writing the rows in their input order. Memory
// stays bounded: at most a few chunks per worker are in flight. A row
// conv refuses is fatal (the error names its line, never its value), or,
// with skip and a row-level error, reported on stderr and left out.
func pipeline(ctx context.Context, r *csv.Reader, w *csv.Writer, col int, column string, skip bool,
	conv func([]string) (string, error), warm func(rows [][]string), progress func(int64), stderr io.Writer) (rows, skipped int64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := max(runtime.GOMAXPROCS(0), 1)
	jobs := make(chan *csvChunk, workers)
	results := make(chan *csvChunk, 2*workers)

	// The reader: chunks of rows with their line numbers.
	go func() {
		defer close(jobs)
		for seq := 0; ; seq++ {
			c := &csvChunk{seq: seq}
			for len(c.rows) < chunkRows {
				rec, err := r.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				line, _ := r.FieldPos(0)
				if err != nil {
					var pe *csv.ParseError
					if errors.As(err, &pe) && skip && errors.Is(pe.Err, csv.ErrFieldCount) {
						c.rows, c.lines, c.skip = append(c.rows, nil), append(c.lines, pe.Line), append(c.skip, pe.Err.Error())
						continue
					}
					c.err = csvError(err)
					break
				}
				c.rows, c.lines, c.skip = append(c.rows, rec), append(c.lines, line), append(c.skip, "")
			}
			if len(c.rows) == 0 && c.err == nil {
				return
			}
			select {
			case jobs <- c:
			case <-ctx.Done():
				return
			}
			if c.err != nil {
				return
			}
		}
	}()

	// The workers.
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				if warm != nil {
					warm(c.rows)
				}
				for i, rec := range c.rows {
					if rec == nil || rec[col] == "" {
						continue
					}
					out, err := conv(rec)
					switch {
					case err == nil:
						rec[col] = out
					case skip && rowError(err):
						c.skip[i] = fmt.Sprintf("column %s: %v", column, err)
					default:
						c.err = fmt.Errorf("line %d: column %s: %w", c.lines[i], column, err)
						c.rows, c.lines, c.skip = c.rows[:i], c.lines[:i], c.skip[:i]
					}
					if c.err != nil {
						break
					}
				}
				select {
				case results <- c:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	// The writer, in input order.
	pending := map[int]*csvChunk{}
	next := 0
	for c := range results {
		pending[c.seq] = c
		for {
			c, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			for i, rec := range c.rows {
				if c.skip[i] != "" {
					fmt.Fprintf(stderr, "fieldcrypt: line %d skipped: %s\n", c.lines[i], c.skip[i])
					skipped++
					continue
				}
				if err := w.Write(rec); err != nil {
					return rows, skipped, err
				}
				rows++
			}
			w.Flush()
			progress(rows)
			if c.err != nil {
				return rows, skipped, c.err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return rows, skipped, err
	}
	return rows, skipped, nil
}
