/*
 * The training run that profiles XGBoost for scripts/build-xgboost.sh's profile-guided build.
 * It goes through the C API the way crates/core/src/algorithms/xgboost_lib.rs does: a
 * QuantileDMatrix from one dense float batch (NaN missing), `hist` boosting of each objective
 * pgml trains (reg:squarederror, binary:logistic, multi:softprob), in-place prediction and a
 * UBJ save. Its data is its own (seeded, generated here, not the benchmark's), 30,000 x 16.
 *
 * cc -O2 xgboost-profile.c -I$PREFIX/include -L$PREFIX/lib -lxgboost -o xgboost-profile
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <xgboost/c_api.h>

#define ROWS 30000
#define COLS 16

#define CHECK(call)                                                    \
  do {                                                                 \
    if ((call) != 0) {                                                 \
      fprintf(stderr, "xgboost-profile: %s\n", XGBGetLastError());     \
      exit(1);                                                         \
    }                                                                  \
  } while (0)

static uint64_t state = 20261124;

/* uniform in [0, 1) from a 64-bit linear congruential generator */
static float uniform(void) {
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float)(state >> 40) / (float)(1 << 24);
}

struct batch {
  const float *x;
  const float *y;
  DMatrixHandle proxy;
  int given;
};

/* The array interface of `rows` x `cols` floats (`rows` alone when `cols` is 0). One buffer
 * serves every call: XGBoost parses the interface before it returns. */
static const char *array(const float *values, int rows, int cols) {
  static char text[256], shape[64];
  if (cols > 0)
    snprintf(shape, sizeof shape, "%d, %d", rows, cols);
  else
    snprintf(shape, sizeof shape, "%d", rows);
  snprintf(text, sizeof text, "{\"data\": [%lu, true], \"shape\": [%s], \"typestr\": \"<f4\", \"version\": 3}",
           (unsigned long)(uintptr_t)values, shape);
  return text;
}

static int next(DataIterHandle handle) {
  struct batch *b = handle;
  if (b->given) return 0;
  b->given = 1;
  CHECK(XGProxyDMatrixSetDataDense(b->proxy, array(b->x, ROWS, COLS)));
  CHECK(XGDMatrixSetInfoFromInterface(b->proxy, "label", array(b->y, ROWS, 0)));
  return 1;
}

static void reset(DataIterHandle handle) { ((struct batch *)handle)->given = 0; }

static void train(const float *x, const float *y, const char *objective, int classes) {
  DMatrixHandle proxy, dtrain;
  CHECK(XGProxyDMatrixCreate(&proxy));
  struct batch b = {x, y, proxy, 0};
  CHECK(XGQuantileDMatrixCreateFromCallback(&b, proxy, NULL, reset, next,
                                            "{\"missing\": NaN, \"nthread\": 0, \"max_bin\": 256}", &dtrain));
  CHECK(XGDMatrixFree(proxy));
  BoosterHandle booster;
  CHECK(XGBoosterCreate(&dtrain, 1, &booster));
  char num_class[16];
  snprintf(num_class, sizeof num_class, "%d", classes);
  CHECK(XGBoosterSetParam(booster, "objective", objective));
  CHECK(XGBoosterSetParam(booster, "verbosity", "0"));
  if (classes > 2) CHECK(XGBoosterSetParam(booster, "num_class", num_class));
  CHECK(XGBoosterSetParam(booster, "tree_method", "hist"));
  CHECK(XGBoosterSetParam(booster, "max_depth", "6"));
  CHECK(XGBoosterSetParam(booster, "seed", "42"));
  for (int round = 0; round < 40; round++) CHECK(XGBoosterUpdateOneIter(booster, round, dtrain));
  const bst_ulong *shape;
  bst_ulong dim;
  const float *predicted;
  CHECK(XGBoosterPredictFromDense(booster, array(x, ROWS, COLS),
                                  "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                                  "\"iteration_end\": 0, \"strict_shape\": false, \"missing\": NaN}",
                                  NULL, &shape, &dim, &predicted));
  bst_ulong len;
  const char *bytes;
  CHECK(XGBoosterSaveModelToBuffer(booster, "{\"format\": \"ubj\"}", &len, &bytes));
  printf("xgboost-profile: %s, %lu model bytes, first prediction %.4f\n", objective, (unsigned long)len,
         predicted[0]);
  CHECK(XGBoosterFree(booster));
  CHECK(XGDMatrixFree(dtrain));
}

int main(void) {
  float *x = malloc(sizeof(float) * ROWS * COLS);
  float *score = malloc(sizeof(float) * ROWS);
  float *y = malloc(sizeof(float) * ROWS);
  if (!x || !score || !y) return 1;
  for (int i = 0; i < ROWS; i++) {
    float s = 0;
    for (int j = 0; j < COLS; j++) {
      float v = uniform() * 2 - 1;
      /* a few missing values, as tables have */
      x[i * COLS + j] = uniform() < 0.01f ? NAN : v;
      s += (j % 3 == 0 ? sinf(3 * v) : v * v) / (1 + j % 4);
    }
    score[i] = s + 0.3f * (uniform() - 0.5f);
  }
  train(x, score, "reg:squarederror", 0);
  for (int i = 0; i < ROWS; i++) y[i] = score[i] > 1.2f;
  train(x, y, "binary:logistic", 2);
  for (int i = 0; i < ROWS; i++) y[i] = score[i] < 0.9f ? 0 : score[i] < 1.6f ? 1 : 2;
  train(x, y, "multi:softprob", 3);
  return 0;
}
