// module.cu — the one translation unit gen.sh compiles into each PTX module: every op family
// of this folder, so the backend loads a single module per device (cuModuleLoadData).
#include "elementwise.cu"
#include "norms.cu"
#include "rotary.cu"
#include "softmax.cu"
#include "rows.cu"
#include "optim.cu"
#include "moe.cu"
#include "attention.cu"
#include "gridsample.cu"
