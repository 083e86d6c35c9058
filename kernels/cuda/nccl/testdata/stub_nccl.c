// Stand-in libnccl: records arguments (the whole 128-byte ncclUniqueId passed by value) and
// returns chosen results.
#include <stdint.h>
#include <string.h>

typedef struct { char internal[128]; } ncclUniqueId;

static char fail_name[64];
static int fail_code;
static uint64_t rec[16];
static unsigned char id_seen[128];

void stub_fail(const char *name, int code) { strncpy(fail_name, name, 63); fail_code = code; }
uint64_t stub_rec(int i) { return rec[i]; }
int stub_id_byte(int i) { return id_seen[i]; }
static int ret(const char *n) { return strcmp(n, fail_name) == 0 ? fail_code : 0; }

const char *ncclGetErrorString(int r) {
	switch (r) {
	case 4: return "invalid argument";
	case 5: return "invalid usage";
	}
	return "unknown result";
}
int ncclGetVersion(int *v) { *v = 22703; return ret("ncclGetVersion"); }
int ncclGetUniqueId(ncclUniqueId *id) {
	for (int i = 0; i < 128; i++) id->internal[i] = (char)(i * 7 + 1);
	return ret("ncclGetUniqueId");
}
int ncclCommInitRank(void **comm, int nranks, ncclUniqueId id, int rank) {
	memcpy(id_seen, id.internal, 128);
	rec[0] = nranks; rec[1] = rank;
	*comm = (void *)0xC0AA;
	return ret("ncclCommInitRank");
}
int ncclCommDestroy(void *c) { rec[0] = (uintptr_t)c; return ret("ncclCommDestroy"); }
int ncclSend(const void *b, size_t n, int dt, int peer, void *c, void *s) {
	uint64_t v[] = {(uintptr_t)b, n, dt, peer, (uintptr_t)c, (uintptr_t)s}; memcpy(rec, v, sizeof v); return ret("ncclSend");
}
int ncclRecv(void *b, size_t n, int dt, int peer, void *c, void *s) {
	uint64_t v[] = {(uintptr_t)b, n, dt, peer, (uintptr_t)c, (uintptr_t)s}; memcpy(rec, v, sizeof v); return ret("ncclRecv");
}
int ncclAllReduce(const void *a, void *b, size_t n, int dt, int op, void *c, void *s) {
	uint64_t v[] = {(uintptr_t)a, (uintptr_t)b, n, dt, op, (uintptr_t)c, (uintptr_t)s}; memcpy(rec, v, sizeof v); return ret("ncclAllReduce");
}
int ncclGroupStart(void) { rec[0] = 1; return ret("ncclGroupStart"); }
int ncclGroupEnd(void) { rec[0] = 2; return ret("ncclGroupEnd"); }
