// Checks a Truceline checkpoint and inclusion proofs with the reference Go implementations:
// golang.org/x/mod/sumdb/note for the C2SP signed note and github.com/transparency-dev/merkle
// for RFC 9162 inclusion proofs. Run by test/ledger.e2e.spec.ts as
//
//	go run . INPUT.json
//
// where INPUT.json is { verifierKey, checkpoint, proofs: [{ leafIndex, leafHash, inclusionProof }] }
// with hashes in base64. Exits 0 when everything verifies, 1 otherwise.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

type input struct {
	VerifierKey string `json:"verifierKey"`
	Checkpoint  string `json:"checkpoint"`
	Proofs      []struct {
		LeafIndex      uint64   `json:"leafIndex"`
		LeafHash       string   `json:"leafHash"`
		InclusionProof []string `json:"inclusionProof"`
	} `json:"proofs"`
}

func main() {
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "FAILED:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		return err
	}
	verifier, err := note.NewVerifier(in.VerifierKey)
	if err != nil {
		return fmt.Errorf("verifier key: %w", err)
	}
	n, err := note.Open([]byte(in.Checkpoint), note.VerifierList(verifier))
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != verifier.Name() {
		return fmt.Errorf("checkpoint body: %q", n.Text)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return fmt.Errorf("tree size: %w", err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil {
		return fmt.Errorf("root hash: %w", err)
	}
	for _, p := range in.Proofs {
		leaf, err := base64.StdEncoding.DecodeString(p.LeafHash)
		if err != nil {
			return err
		}
		hashes := make([][]byte, len(p.InclusionProof))
		for i, h := range p.InclusionProof {
			if hashes[i], err = base64.StdEncoding.DecodeString(h); err != nil {
				return err
			}
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.LeafIndex, size, leaf, hashes, root); err != nil {
			return fmt.Errorf("leaf %d: %w", p.LeafIndex, err)
		}
	}
	fmt.Printf("OK: %s, tree size %d, %d inclusion proofs\n", verifier.Name(), size, len(in.Proofs))
	return nil
}
