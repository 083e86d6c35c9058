//go:build !amd64 || purego

package tensors

const pathGo = "go"

func convPathSupported(p string) bool { return p == pathGo }

func setConvPath(p string) bool {
	if p != pathGo {
		return false
	}
	setConvGo()
	convPath = p
	return true
}
