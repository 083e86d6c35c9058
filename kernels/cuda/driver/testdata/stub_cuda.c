// Stand-in libcuda for the binding tests: the same symbol names and C signatures as cuda.h.
// "Device memory" is host memory from malloc, so copies and memsets really move bytes. Every
// call records its name and integer arguments; stub_fail makes one named call return a code.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef void *CUcontext, *CUstream, *CUevent, *CUmodule, *CUfunction;

static char fail_name[64];
static int fail_code;
static char last_call[64];
static uint64_t args[16];
static uint64_t params[32];
static int nparams;
static char last_string[256];
static float last_float;

void stub_fail(const char *name, int code) { strncpy(fail_name, name, 63); fail_code = code; }
const char *stub_last_call(void) { return last_call; }
uint64_t stub_arg(int i) { return args[i]; }
uint64_t stub_param(int i) { return params[i]; }
int stub_nparams(void) { return nparams; }
void stub_set_nparams(int n) { nparams = n; }
const char *stub_last_string(void) { return last_string; }

static CUresult ret(const char *name) {
	strncpy(last_call, name, 63);
	if (strcmp(name, fail_name) == 0) return fail_code;
	return 0;
}

CUresult cuGetErrorName(CUresult r, const char **s) {
	switch (r) {
	case 1: *s = "CUDA_ERROR_INVALID_VALUE"; return 0;
	case 2: *s = "CUDA_ERROR_OUT_OF_MEMORY"; return 0;
	case 100: *s = "CUDA_ERROR_NO_DEVICE"; return 0;
	}
	return 1;
}
CUresult cuGetErrorString(CUresult r, const char **s) {
	switch (r) {
	case 1: *s = "invalid argument"; return 0;
	case 2: *s = "out of memory"; return 0;
	case 100: *s = "no CUDA-capable device is detected"; return 0;
	}
	return 1;
}

CUresult cuInit(unsigned int flags) { args[0] = flags; return ret("cuInit"); }
CUresult cuDriverGetVersion(int *v) { *v = 13000; return ret("cuDriverGetVersion"); }
CUresult cuDeviceGetCount(int *n) { *n = 2; return ret("cuDeviceGetCount"); }
CUresult cuDeviceGet(CUdevice *d, int ordinal) { *d = 10 + ordinal; args[0] = ordinal; return ret("cuDeviceGet"); }
CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
	args[0] = len; args[1] = d;
	strncpy(name, "Stub GPU H200", len);
	return ret("cuDeviceGetName");
}
CUresult cuDeviceGetAttribute(int *v, int attr, CUdevice d) {
	args[0] = attr; args[1] = d;
	*v = attr == 75 ? 9 : attr == 76 ? 0 : attr == 16 ? 132 : 1000 + attr;
	return ret("cuDeviceGetAttribute");
}
CUresult cuDeviceTotalMem_v2(size_t *b, CUdevice d) { *b = 150ull << 30; args[0] = d; return ret("cuDeviceTotalMem_v2"); }
CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) { *c = (CUcontext)(uintptr_t)(0xC0 + d); args[0] = d; return ret("cuDevicePrimaryCtxRetain"); }
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) { args[0] = d; return ret("cuDevicePrimaryCtxRelease_v2"); }
static CUcontext cur;
CUresult cuCtxPushCurrent_v2(CUcontext c) { cur = c; args[0] = (uintptr_t)c; return ret("cuCtxPushCurrent_v2"); }
CUresult cuCtxPopCurrent_v2(CUcontext *c) { *c = cur; cur = 0; return ret("cuCtxPopCurrent_v2"); }
CUresult cuCtxSetCurrent(CUcontext c) { cur = c; args[0] = (uintptr_t)c; return ret("cuCtxSetCurrent"); }
CUresult cuCtxSynchronize(void) { return ret("cuCtxSynchronize"); }
CUresult cuMemGetInfo_v2(size_t *f, size_t *t) { *f = 100ull << 30; *t = 150ull << 30; return ret("cuMemGetInfo_v2"); }
CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
	args[0] = n;
	CUresult r = ret("cuMemAlloc_v2");
	if (r) return r;
	*p = (CUdeviceptr)(uintptr_t)calloc(1, n ? n : 1);
	return 0;
}
CUresult cuMemFree_v2(CUdeviceptr p) { args[0] = p; CUresult r = ret("cuMemFree_v2"); if (!r) free((void *)(uintptr_t)p); return r; }
CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n) { args[0] = d; args[1] = (uintptr_t)s; args[2] = n; memcpy((void *)(uintptr_t)d, s, n); return ret("cuMemcpyHtoD_v2"); }
CUresult cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n) { args[0] = (uintptr_t)d; args[1] = s; args[2] = n; memcpy(d, (void *)(uintptr_t)s, n); return ret("cuMemcpyDtoH_v2"); }
CUresult cuMemcpyDtoD_v2(CUdeviceptr d, CUdeviceptr s, size_t n) { args[0] = d; args[1] = s; args[2] = n; memmove((void *)(uintptr_t)d, (void *)(uintptr_t)s, n); return ret("cuMemcpyDtoD_v2"); }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *s, size_t n, CUstream st) { args[3] = (uintptr_t)st; return cuMemcpyHtoD_v2(d, s, n) ? fail_code : ret("cuMemcpyHtoDAsync_v2"); }
CUresult cuMemcpyDtoHAsync_v2(void *d, CUdeviceptr s, size_t n, CUstream st) { args[3] = (uintptr_t)st; return cuMemcpyDtoH_v2(d, s, n) ? fail_code : ret("cuMemcpyDtoHAsync_v2"); }
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream st) { args[3] = (uintptr_t)st; return cuMemcpyDtoD_v2(d, s, n) ? fail_code : ret("cuMemcpyDtoDAsync_v2"); }
CUresult cuMemsetD8_v2(CUdeviceptr p, unsigned char v, size_t n) { args[0] = p; args[1] = v; args[2] = n; memset((void *)(uintptr_t)p, v, n); return ret("cuMemsetD8_v2"); }
CUresult cuMemsetD32_v2(CUdeviceptr p, unsigned int v, size_t n) {
	args[0] = p; args[1] = v; args[2] = n;
	for (size_t i = 0; i < n; i++) ((unsigned int *)(uintptr_t)p)[i] = v;
	return ret("cuMemsetD32_v2");
}
CUresult cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, CUstream s) { args[3] = (uintptr_t)s; cuMemsetD8_v2(p, v, n); return ret("cuMemsetD8Async"); }
CUresult cuMemsetD32Async(CUdeviceptr p, unsigned int v, size_t n, CUstream s) { args[3] = (uintptr_t)s; cuMemsetD32_v2(p, v, n); return ret("cuMemsetD32Async"); }
CUresult cuMemHostAlloc(void **p, size_t n, unsigned int flags) { args[0] = n; args[1] = flags; CUresult r = ret("cuMemHostAlloc"); if (!r) *p = calloc(1, n); return r; }
CUresult cuMemFreeHost(void *p) { args[0] = (uintptr_t)p; free(p); return ret("cuMemFreeHost"); }
CUresult cuStreamCreate(CUstream *s, unsigned int flags) { args[0] = flags; *s = (CUstream)0x5700; return ret("cuStreamCreate"); }
CUresult cuStreamDestroy_v2(CUstream s) { args[0] = (uintptr_t)s; return ret("cuStreamDestroy_v2"); }
CUresult cuStreamSynchronize(CUstream s) { args[0] = (uintptr_t)s; return ret("cuStreamSynchronize"); }
CUresult cuEventCreate(CUevent *e, unsigned int flags) { static uintptr_t n = 0xE0; args[0] = flags; *e = (CUevent)(n++); return ret("cuEventCreate"); }
CUresult cuEventRecord(CUevent e, CUstream s) { args[0] = (uintptr_t)e; args[1] = (uintptr_t)s; return ret("cuEventRecord"); }
CUresult cuEventSynchronize(CUevent e) { args[0] = (uintptr_t)e; return ret("cuEventSynchronize"); }
CUresult cuEventElapsedTime_v2(float *ms, CUevent a, CUevent b) { args[0] = (uintptr_t)a; args[1] = (uintptr_t)b; *ms = 1.5f; return ret("cuEventElapsedTime_v2"); }
CUresult cuEventDestroy_v2(CUevent e) { args[0] = (uintptr_t)e; return ret("cuEventDestroy_v2"); }
CUresult cuModuleLoadData(CUmodule *m, const void *image) {
	strncpy(last_string, (const char *)image, 255);
	*m = (CUmodule)0x3300;
	return ret("cuModuleLoadData");
}
CUresult cuModuleUnload(CUmodule m) { args[0] = (uintptr_t)m; return ret("cuModuleUnload"); }
CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
	args[0] = (uintptr_t)m;
	strncpy(last_string, name, 255);
	*f = (CUfunction)(uintptr_t)(0xF000 + strlen(name));
	return ret("cuModuleGetFunction");
}
CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shmem, CUstream s, void **kp, void **extra) {
	args[0] = (uintptr_t)f; args[1] = gx; args[2] = gy; args[3] = gz; args[4] = bx; args[5] = by; args[6] = bz;
	args[7] = shmem; args[8] = (uintptr_t)s; args[9] = (uintptr_t)kp; args[10] = (uintptr_t)extra;
	for (int i = 0; i < nparams && kp; i++) params[i] = *(uint64_t *)kp[i];
	return ret("cuLaunchKernel");
}
