// Package dl finds and opens the NVIDIA shared libraries (libcuda, libcublas, libnccl) at run
// time and binds their symbols with purego, so glmflow builds with CGO_ENABLED=0 and the same
// binary runs with or without a GPU.
//
// Search order (Search.Dirs):
//
//  1. every entry of LD_LIBRARY_PATH, in order;
//  2. the system folders /usr/lib/x86_64-linux-gnu, /usr/lib64, /usr/local/cuda/lib64,
//     /usr/local/cuda/compat;
//  3. the NVIDIA Python wheels: for every site-packages or dist-packages folder under
//     /usr/lib/python3*, /usr/local/lib/python3*, ~/.local/lib/python3* and $VIRTUAL_ENV/lib/python3*
//     (sorted), the folders nvidia/<pkg>/lib (e.g. nvidia/cublas/lib, nvidia/nccl/lib) and the
//     CUDA 13 layout nvidia/cu13/lib.
//
// A library given by exact names (libcuda.so.1, libcuda.so) is the first match in that order,
// then the dynamic loader's own cache (a bare-name dlopen). A library given by a versioned
// pattern (libcublas.so.*) is the highest version found anywhere; equal versions go to the
// earlier folder.
//
// Non-goals: CUDA semantics (kernels/cuda/driver, cublas, nccl), Windows and macOS.
package dl
