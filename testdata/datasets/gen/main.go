// Command gen writes glmflow's mini datasets in the exact Hugging Face hub layout and column
// types of the datasets the makers read:
//
//	cord-v2/data/{train,validation,test}-NNNNN-of-MMMMM-<hex>.parquet   naver-clova-ix/cord-v2
//	medpix-vqa/data/{train,validation}-NNNNN-of-MMMMM.parquet            mmoukouba/MedPix-VQA
//	the_cauldron/raven/train-NNNNN-of-MMMMM.parquet                     HuggingFaceM4/the_cauldron, subset raven
//
// Receipts are rendered with the Go fonts and their CORD ground_truth describes exactly the text
// drawn (with word boxes); medical-like images are smooth grayscale phantoms whose Q/A talk about
// what is drawn; Raven-like puzzles are 3×3 panels of shapes following a row rule, given as
// several images. Everything is seeded: running the command twice writes identical bytes, and a
// test checks the committed files are what it writes.
//
// Usage (from the repository root): go run ./testdata/datasets/gen [-out testdata/datasets]
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	out := flag.String("out", "testdata/datasets", "output folder")
	flag.Parse()
	if err := generate(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// generate writes every mini dataset under dir.
func generate(dir string) error {
	if err := writeCord(dir); err != nil {
		return fmt.Errorf("cord-v2: %w", err)
	}
	if err := writeMedpix(dir); err != nil {
		return fmt.Errorf("medpix-vqa: %w", err)
	}
	if err := writeRaven(dir); err != nil {
		return fmt.Errorf("the_cauldron: %w", err)
	}
	return nil
}
