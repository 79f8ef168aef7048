/* functorch_lite kernel runtime: reading ndarray objects, collapsing dimensions, running a kernel body on
   OpenMP threads. One library shared by every kernel library (loaded RTLD_GLOBAL, so the kernels resolve
   these symbols at load time). pip builds it when the package is installed (setup.py); without that build,
   jit builds it into the kernel cache beside the first kernels. Kernel translation units start with the
   types and declarations below (compiler/render.py reads them from this file, between the markers). */

/* == types == */
typedef signed char i8; typedef short i16; typedef int i32; typedef long long i64;
typedef unsigned char u8; typedef unsigned short u16; typedef unsigned int u32;
typedef unsigned long long u64; typedef float f32; typedef double f64;
/* == declarations == */
#define FL_EXPORT __attribute__((visibility("default")))
void* malloc(unsigned long);
void free(void*);
/* the head of numpy's PyArrayObject_fields; the layout is checked from Python before any call */
typedef struct { i64 refcnt; const void* type; char* data; int nd; i64* dims; i64* strides; void* base;
                 void* descr; int flags; } fl_arr;
typedef struct { char* p[32]; i64 s[32][8]; i64 n[8]; int rank, pax; void* sc[4]; i64 sc_n; } fl_args;
typedef int (*fl_body)(const fl_args*, i64, i64, int);
int functorch_lite_prepare(fl_args* A, const fl_arr* dims, const fl_arr* const* arrs, int np_, int rank,
                           const signed char* emb, const signed char* nd, const unsigned char* isz,
                           const unsigned char* out, const signed char* order, const unsigned char* cls);
int functorch_lite_threads(void);
int functorch_lite_launch(fl_body body, const fl_args* A, i64 cost, int threads);
/* == definitions == */
FL_EXPORT const void* functorch_lite_ndarray_type = 0;
FL_EXPORT int functorch_lite_nthreads = 1;
FL_EXPORT i64 functorch_lite_par_min = 1 << 24;

FL_EXPORT int functorch_lite_threads(void) { return functorch_lite_nthreads > 0 ? functorch_lite_nthreads : 1; }

FL_EXPORT int functorch_lite_prepare(fl_args* A, const fl_arr* dims, const fl_arr* const* arrs, int np_,
                                     int rank, const signed char* emb, const signed char* nd,
                                     const unsigned char* isz, const unsigned char* out,
                                     const signed char* order, const unsigned char* cls) {
  const void* nd_type = functorch_lite_ndarray_type;
  if (!nd_type || dims->type != nd_type || dims->nd != 1 || dims->dims[0] != rank || rank > 8 || np_ > 32)
    return 1;
  A->rank = rank;
  for (int d = 0; d < rank; d++) A->n[d] = ((const i64*)dims->data)[d];
  for (int p = 0; p < np_; p++) {
    const fl_arr* a = arrs[p];
    if (a->type != nd_type || a->nd != nd[p]) return 1;
    if (out[p] && !(a->flags & 0x0400)) return 1;  /* NPY_ARRAY_WRITEABLE */
    const i64 sz = isz[p];
    if ((i64)((unsigned long)a->data % (unsigned long)sz)) return 1;
    A->p[p] = a->data;
    unsigned used = 0;
    for (int d = 0; d < rank; d++) {
      const int ax = emb[p * rank + d];
      A->s[p][d] = 0;
      if (ax < 0) continue;
      if (a->dims[ax] != A->n[d] || a->strides[ax] % sz) return 1;
      A->s[p][d] = A->n[d] > 1 ? a->strides[ax] / sz : 0;
      used |= 1u << ax;
    }
    for (int ax = 0; ax < a->nd; ax++)
      if (!(used >> ax & 1) && a->dims[ax] != 1) return 1;
  }
  for (int d = 0; d < rank; d++)
    if (A->n[d] == 0 && !cls[d]) return -1;  /* an empty result: nothing to compute */
  /* collapse: merge loop axis a into the next non-unit axis b of the same class (outer / reduced) when
     every array steps through the two as through one */
  int b = -1;
  for (int j = rank - 1; j >= 0; j--) {
    const int a = order[j];
    if (A->n[a] == 1) continue;
    if (b >= 0 && cls[a] == cls[b]) {
      int ok = 1;
      for (int p = 0; p < np_ && ok; p++) ok = A->s[p][a] == A->s[p][b] * A->n[b];
      if (ok) {
        A->n[b] *= A->n[a];
        A->n[a] = 1;
        for (int p = 0; p < np_; p++) A->s[p][a] = 0;
        continue;
      }
    }
    b = a;
  }
  A->pax = -1;  /* the parallel axis: the first outer loop axis that is not a unit */
  for (int j = 0; j < rank && !cls[order[j]]; j++) {
    const int a = order[j];
    if (A->pax < 0 || (A->n[A->pax] == 1 && A->n[a] > 1)) A->pax = a;
  }
  A->sc_n = 1;
  for (int d = 0; d < rank; d++) if (cls[d]) A->sc_n *= A->n[d];
  for (int k = 0; k < 4; k++) A->sc[k] = 0;
  return 0;
}

#ifdef _OPENMP
int omp_get_thread_num(void);
#endif

/* Run body over [0, n) of the parallel axis, in chunks shared out dynamically over up to ``threads``
   OpenMP threads when the work (elements x cost) is large enough: a thread that starts late (another
   process holds its core) then finds less left to do instead of holding up the others. */
FL_EXPORT int functorch_lite_launch(fl_body body, const fl_args* A, i64 cost, int threads) {
  const i64 n = A->pax >= 0 ? A->n[A->pax] : 1;
#ifdef _OPENMP
  i64 work = cost;
  for (int d = 0; d < A->rank; d++) work *= A->n[d];
  int T = threads;
  if (T > 1 && n > 1 && work >= functorch_lite_par_min) {
    int failed = 0;
    i64 chunks = work / (functorch_lite_par_min / 4 > 0 ? functorch_lite_par_min / 4 : 1);
    if (chunks > 16 * (i64)T) chunks = 16 * (i64)T;
    if (chunks > n) chunks = n;
    if (T > chunks) T = (int)chunks;
    #pragma omp parallel num_threads(T)
    {
      const int t = omp_get_thread_num();
      #pragma omp for schedule(dynamic, 1)
      for (i64 c = 0; c < chunks; c++)
        if (body(A, n * c / chunks, n * (c + 1) / chunks, t)) failed = 1;
    }
    return failed ? 2 : 0;
  }
#else
  (void)cost;
  (void)threads;
#endif
  return body(A, 0, n, 0) ? 2 : 0;
}
