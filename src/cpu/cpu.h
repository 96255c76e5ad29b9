/*
 * cpu.h: the CPU backend's loops, which src/cpu/backend.c gathers into
 * gd_cpu_backend (the table of src/backend.h).  Only the backend file
 * includes this: the core calls them through the table.
 */
#ifndef GD_CPU_H
#define GD_CPU_H

#include "../internal.h"
#include "../backend.h"

/* elementwise.c */
/* The large freed blocks the CPU allocator keeps for reuse (cpu/backend.c):
   their bytes, and giving them all back. */
size_t gd_cpu_kept_bytes(void);
void gd_cpu_release_kept(void);
int gd_cpu_copy(const gd_iter *it, int dst_dtype, int src_dtype);
int gd_cpu_fill(const gd_iter *it, int dtype, double value);
int gd_cpu_binary(const gd_iter *it, int dtype, int op);
int gd_cpu_binary_scalar(const gd_iter *it, int dtype, int op, double s, int scalar_first);
int gd_cpu_unary(const gd_iter *it, int dtype, int op, double p1, double p2);
int gd_cpu_ternary(const gd_iter *it, int dtype, int kind, double value);
int gd_cpu_range(void *p, int64_t n, int dtype, double start, double step);
/* reduce.c */
int gd_cpu_reduce_all(const void *p, int64_t n, int dtype, int op, double param, double *value, int64_t *index);
int gd_cpu_reduce_dim(const gd_iter *it, int64_t n, int64_t stride, int dtype, int out_dtype, int op, double param,
                      int with_index);
int gd_cpu_cumsum(const gd_iter *it, int64_t n, int64_t so, int64_t si, int dtype);
/* matmul.c */
int gd_cpu_gemm(int dtype, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, double alpha, const void *a,
                int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc);
/* random.c */
int gd_cpu_random(void *p, int64_t n, int dtype, int kind, double a, double b, uint64_t seed, uint64_t offset);
/* optim.c */
int gd_cpu_optim_step(const gd_optim_plan *plan, const gd_optim_segment *segs, int nseg);
/* nn.c */
int gd_cpu_nn_bias_rows(void *y, const void *b, int64_t rows, int64_t cols, int dtype);
int gd_cpu_nn_bias_grad(void *gb, const void *gy, int64_t rows, int64_t cols, int dtype);
int gd_cpu_nn_activation(void *y, const void *x, int64_t n, int dtype, int kind);
int gd_cpu_nn_activation_backward(void *gx, const void *gy, const void *y, int64_t n, int dtype, int kind);
int gd_cpu_nn_softmax(void *y, const void *x, int64_t rows, int64_t n, int dtype, int log_);
int gd_cpu_nn_softmax_backward(void *gx, const void *gy, const void *y, int64_t rows, int64_t n, int dtype, int log_);
int gd_cpu_nn_cross_entropy(double *loss, void *losses, void *grad, const void *logits, const int64_t *target,
                            int64_t index_base, int64_t rows, int64_t C, double row_scale, double scale, int dtype);
int gd_cpu_nn_mse(double *loss, void *losses, void *grad, const void *pred, const void *target, int64_t n,
                  double elem_scale, double scale, int dtype);
int gd_cpu_nn_dropout(void *y, void *mask, const void *x, int64_t n, double p, int dtype);
int gd_cpu_nn_dropout_backward(void *gx, const void *gy, const void *mask, int64_t n, int dtype);
int gd_cpu_nn_gather_rows(void *out, const void *src, const int64_t *index, int64_t index_base, int64_t rows,
                          int64_t row_bytes);
int gd_cpu_nn_pointwise_loss(double *sum, void *losses, void *grad, const void *pred, const void *target,
                             const void *weight, const void *pos_weight, int64_t n, int kind, double param,
                             double scale, int dtype);
int gd_cpu_nn_class_targets(double *denom, int64_t *bad, const int64_t *target, const void *weight, int64_t N,
                            int64_t C, int64_t ignore_index, int dtype);
int gd_cpu_nn_class_loss(double *sum, void *losses, void *grad, const void *x, const int64_t *target,
                         const void *prob, const void *weight, int64_t N, int64_t C, int64_t ignore_index,
                         double label_smoothing, double scale, int nll, int dtype);
int gd_cpu_nn_embedding_backward(int dtype, void *gw, const void *gy, const int64_t *idx, int64_t count,
                                 int64_t rows, int64_t D, int64_t padding_idx, int scale_grad_by_freq);
int gd_cpu_nn_embedding_renorm(int dtype, void *w, const int64_t *idx, int64_t count, int64_t rows, int64_t D,
                               double max_norm, double norm_type);
int gd_cpu_nn_batchnorm(int dtype, void *y, void *save_mean, void *save_invstd, void *rmean, void *rvar,
                        const void *x, const void *w, const void *b, int64_t N, int64_t C, int64_t L,
                        double momentum, double eps, int training);
int gd_cpu_nn_batchnorm_backward(int dtype, void *gx, void *gw, void *gb, const void *gy, const void *x,
                                 const void *w, const void *save_mean, const void *save_invstd, int64_t N,
                                 int64_t C, int64_t L, int batch_stats);
int gd_cpu_nn_rownorm(int dtype, void *y, void *save_mean, void *save_rstd, const void *x, const void *w,
                      const void *b, int64_t rows, int64_t M, int64_t G, int64_t span, double eps);
int gd_cpu_nn_rownorm_backward(int dtype, void *gx, void *gw, void *gb, const void *gy, const void *x,
                               const void *w, const void *save_mean, const void *save_rstd, int64_t rows,
                               int64_t M, int64_t G, int64_t span);

#endif
