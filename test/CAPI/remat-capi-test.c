/*===- remat-capi-test.c - a C client of libRematCAPI -----------*- C -*-===*\
|*                                                                          *|
|* Part of the remat project.                                               *|
|*                                                                          *|
|* Uses only the remat-c/ and mlir-c/ headers and links only                *|
|* libRematCAPI.so:                                                         *|
|*   remat-capi-test pipeline FILE PIPELINE  runs a textual pipeline on     *|
|*                                           FILE and prints the module;    *|
|*   remat-capi-test plan FILE OPTIONS       plans FILE with rematPlan and  *|
|*                                           prints the plan summary.       *|
|* Exits 1 on a failure, after the diagnostics.                             *|
\*===----------------------------------------------------------------------===*/

#include "mlir-c/Diagnostics.h"
#include "mlir-c/IR.h"
#include "mlir-c/Pass.h"
#include "remat-c/Remat.h"

#include <stdio.h>
#include <string.h>

static void print(MlirStringRef text, void *stream) {
  fwrite(text.data, 1, text.length, (FILE *)stream);
}

int main(int argc, char **argv) {
  if (argc != 4 || (strcmp(argv[1], "pipeline") && strcmp(argv[1], "plan"))) {
    fprintf(stderr, "usage: %s pipeline|plan FILE PIPELINE|OPTIONS\n", argv[0]);
    return 2;
  }
  rematRegisterPasses();
  MlirDialectRegistry registry = mlirDialectRegistryCreate();
  rematRegisterAllDialects(registry);
  MlirContext context = mlirContextCreate();
  mlirContextAppendDialectRegistry(context, registry);
  mlirDialectRegistryDestroy(registry);
  /* The dialect handle alone also works: */
  mlirDialectHandleLoadDialect(mlirGetDialectHandle__remat__(), context);

  int status = 0;
  MlirModule module = mlirModuleCreateParseFromFile(
      context, mlirStringRefCreateFromCString(argv[2]));
  if (mlirModuleIsNull(module)) {
    status = 1;
  } else if (!strcmp(argv[1], "pipeline")) {
    MlirPassManager pm = mlirPassManagerCreate(context);
    MlirOpPassManager opm = mlirPassManagerGetAsOpPassManager(pm);
    if (mlirLogicalResultIsFailure(mlirParsePassPipeline(
            opm, mlirStringRefCreateFromCString(argv[3]), print, stderr))) {
      fprintf(stderr, "\n");
      status = 1;
    } else if (mlirLogicalResultIsFailure(mlirPassManagerRunOnOp(
                   pm, mlirModuleGetOperation(module)))) {
      status = 1;
    } else {
      mlirOperationPrint(mlirModuleGetOperation(module), print, stdout);
      printf("\n");
    }
    mlirPassManagerDestroy(pm);
  } else {
    if (mlirLogicalResultIsFailure(
            rematPlan(mlirModuleGetOperation(module),
                      mlirStringRefCreateFromCString(argv[3]), print, stdout)))
      status = 1;
    printf("\n");
  }
  if (!mlirModuleIsNull(module))
    mlirModuleDestroy(module);
  mlirContextDestroy(context);
  return status;
}
