// Package embedding holds the token-embedding lookup: Forward gathers rows of a table,
// Backward scatter-adds the output gradient back into the table gradient.
//
// Shape vocabulary: V vocabulary rows, D embedding width, T tokens.
//
// Semantics follow torch.nn.Embedding: ids outside [0, V) are an error (naming the token
// position and the id; nothing is written); Backward ACCUMULATES into dTable (dTable += …) so
// gradients add up over micro-batches, and the paddingIdx row (−1: none) receives no gradient,
// as padding_idx does (GLM-4.5V: padding_idx 151329, <|endoftext|>).
//
// Determinism: every element of dTable receives its contributions in token order t = 0, 1, …
// whatever the thread count; goroutines split the D columns, never the tokens.
//
// Non-goals: bf16 tables (callers convert), max_norm renormalisation, sparse gradients.
package embedding
