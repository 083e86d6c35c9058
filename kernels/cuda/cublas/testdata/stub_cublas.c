// Stand-in libcublas: the cuBLAS symbols glmflow binds, with cuBLAS's column-major semantics
// computed on host memory for CUDA_R_32F operands (so a test can run a real GEMM through the
// bindings), and every argument recorded. VERSION (-DVERSION=n) tells copies apart.
#include <stdint.h>
#include <string.h>

#ifndef VERSION
#define VERSION 0
#endif

static int fail_status;
static char fail_name[64];
static uint64_t rec[32];
static float rec_alpha, rec_beta;
static int ncalls;

int stub_version(void) { return VERSION; }
void stub_fail(const char *name, int status) { strncpy(fail_name, name, 63); fail_status = status; }
uint64_t stub_rec(int i) { return rec[i]; }
float stub_alpha(void) { return rec_alpha; }
float stub_beta(void) { return rec_beta; }
int stub_ncalls(void) { return ncalls; }

static int ret(const char *n) { ncalls++; return strcmp(n, fail_name) == 0 ? fail_status : 0; }

int cublasCreate_v2(void **h) { *h = (void *)0xB1A5; return ret("cublasCreate_v2"); }
int cublasDestroy_v2(void *h) { rec[0] = (uintptr_t)h; return ret("cublasDestroy_v2"); }
int cublasSetStream_v2(void *h, void *s) { rec[0] = (uintptr_t)h; rec[1] = (uintptr_t)s; return ret("cublasSetStream_v2"); }
int cublasSetMathMode(void *h, int m) { rec[0] = (uintptr_t)h; rec[1] = m; return ret("cublasSetMathMode"); }

// gemm computes C = alpha op(A) op(B) + beta C, column-major, fp32.
static void gemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
	for (int j = 0; j < n; j++)
		for (int i = 0; i < m; i++) {
			double s = 0;
			for (int l = 0; l < k; l++) {
				float a = ta ? A[l + (long)i * lda] : A[i + (long)l * lda];
				float b = tb ? B[j + (long)l * ldb] : B[l + (long)j * ldb];
				s += (double)a * b;
			}
			float c = beta == 0 ? 0 : beta * C[i + (long)j * ldc];
			C[i + (long)j * ldc] = alpha * (float)s + c;
		}
}

int cublasGemmEx(void *h, int ta, int tb, int m, int n, int k, const void *alpha, const void *A, int at, int lda,
                 const void *B, int bt, int ldb, const void *beta, void *C, int ct, int ldc, int compute, int algo) {
	uint64_t v[] = {(uintptr_t)h, ta, tb, m, n, k, (uintptr_t)A, at, lda, (uintptr_t)B, bt, ldb, (uintptr_t)C, ct, ldc,
	                (uint64_t)(int64_t)compute, (uint64_t)(int64_t)algo};
	memcpy(rec, v, sizeof v);
	rec_alpha = *(const float *)alpha;
	rec_beta = *(const float *)beta;
	int r = ret("cublasGemmEx");
	if (r) return r;
	if (at == 0 && bt == 0 && ct == 0)
		gemm(ta, tb, m, n, k, rec_alpha, A, lda, B, ldb, rec_beta, C, ldc);
	return 0;
}

int cublasGemmStridedBatchedEx(void *h, int ta, int tb, int m, int n, int k, const void *alpha, const void *A, int at,
                               int lda, long long sa, const void *B, int bt, int ldb, long long sb, const void *beta,
                               void *C, int ct, int ldc, long long sc, int batch, int compute, int algo) {
	uint64_t v[] = {(uintptr_t)h, ta, tb, m, n, k, (uintptr_t)A, at, lda, (uint64_t)sa, (uintptr_t)B, bt, ldb,
	                (uint64_t)sb, (uintptr_t)C, ct, ldc, (uint64_t)sc, batch, (uint64_t)(int64_t)compute,
	                (uint64_t)(int64_t)algo};
	memcpy(rec, v, sizeof v);
	rec_alpha = *(const float *)alpha;
	rec_beta = *(const float *)beta;
	int r = ret("cublasGemmStridedBatchedEx");
	if (r) return r;
	if (at == 0 && bt == 0 && ct == 0)
		for (int i = 0; i < batch; i++)
			gemm(ta, tb, m, n, k, rec_alpha, (const float *)A + i * sa, lda, (const float *)B + i * sb, ldb,
			     rec_beta, (float *)C + i * sc, ldc);
	return 0;
}
