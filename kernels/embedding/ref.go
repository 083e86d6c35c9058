package embedding

// RefForward is the float64 gather out[t] = table[ids[t]] (ids assumed valid).
func RefForward(out, table []float64, ids []int32, D int) {
	for t, id := range ids {
		copy(out[t*D:(t+1)*D], table[int(id)*D:(int(id)+1)*D])
	}
}

// RefBackward is the float64 scatter-add dTable[ids[t]] += dout[t], skipping paddingIdx.
func RefBackward(dTable, dout []float64, ids []int32, D, paddingIdx int) {
	for t, id := range ids {
		if int(id) == paddingIdx {
			continue
		}
		for j := range D {
			dTable[int(id)*D+j] += dout[t*D+j]
		}
	}
}
