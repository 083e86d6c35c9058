// A libcuda that lacks most symbols (an old or broken driver): binding must fail with an error.
int cuInit(unsigned int flags) { return 0; }
int cuGetErrorName(int r, const char **s) { return 1; }
int cuGetErrorString(int r, const char **s) { return 1; }
