/* mrbench nn: a small CPU neural-network engine (float32, NCHW and NCDHW)
 * and the Deep Cascade of CNNs built on it.
 *
 * Tensors: shape[0] varies SLOWEST here (PyTorch order: N, C, [D,] H, W with
 * W contiguous), unlike mrb_array. A 2D image MRB_C64 [nx, ny] maps to a
 * tensor [N, 2, ny, nx] (channel 0 real, 1 imaginary); a 2D+t series
 * [nx, ny, nt] maps to [N, 2, nt, ny, nx].
 *
 * Layers are plain functions over caller-owned tensors with a forward and a
 * backward. Backward functions ACCUMULATE (+=) into input and parameter
 * gradients, so a tensor used twice (residual connections) gets the sum;
 * callers zero gradients before a backward pass (mrb_tensor_zero_grad).
 * Activations fused into a layer are undone from the layer's output in the
 * backward, which overwrites the output's grad with the pre-activation
 * gradient.
 *
 * Threading: mrb_nn_set_threads sets the OpenMP thread count (and OpenBLAS's
 * for other callers). Convolutions split their work over (item, chunk of
 * output positions) with OpenMP and call sgemm single-threaded inside (an
 * OpenBLAS pool spinning beside the OpenMP one was measured to cost ~30% on 2
 * cores). Results are deterministic for a given thread count.
 *
 * Convolution paths: 3x3 stride-1 padding-1 kernels (2D, or 1x3x3 in 3D) use
 * Winograd F(2x2, 3x3) (Lavin & Gray, CVPR 2016); others im2col + sgemm over
 * cache-sized chunks; the input gradient of a stride-1 convolution is a
 * convolution with the flipped kernel (so it takes the same paths); weight
 * gradients use im2col + sgemm with per-thread partial sums. */
#ifndef MRBENCH_NN_H
#define MRBENCH_NN_H

#include <stddef.h>
#include <stdint.h>
#include "array.h"
#include "rng.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MRB_NN_MAX_DIMS 5

/* ---- tensors ---- */
typedef struct mrb_tensor {
    int ndim;                      /* 1..5 */
    size_t shape[MRB_NN_MAX_DIMS]; /* shape[ndim-1] contiguous */
    float *data;                   /* owned, 64-byte aligned, zeroed at creation */
    float *grad;                   /* owned, NULL unless created with_grad */
} mrb_tensor;

/* NULL (message set) on failure. */
mrb_tensor *mrb_tensor_create(int ndim, const size_t *shape, int with_grad);
mrb_tensor *mrb_tensor_create4(size_t n, size_t c, size_t h, size_t w, int with_grad);
mrb_tensor *mrb_tensor_create5(size_t n, size_t c, size_t d, size_t h, size_t w, int with_grad);
void mrb_tensor_free(mrb_tensor *t); /* NULL is a no-op */
size_t mrb_tensor_count(const mrb_tensor *t);
void mrb_tensor_zero_grad(mrb_tensor *t); /* no-op without grad */
int mrb_tensor_same_shape(const mrb_tensor *a, const mrb_tensor *b);
/* "4x2x256x256" into buf. */
const char *mrb_tensor_shape_str(const mrb_tensor *t, char *buf, size_t len);

/* Threads for OpenMP loops and OpenBLAS (>= 1). */
void mrb_nn_set_threads(int nthreads);
int mrb_nn_threads(void);

/* ---- initialisation ---- */
/* He (Kaiming) normal: N(0, 2 / fan_in) (He et al., ICCV 2015). */
void mrb_nn_init_he_normal(mrb_tensor *w, size_t fan_in, mrb_rng *rng);
/* Xavier (Glorot) uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010). */
void mrb_nn_init_xavier_uniform(mrb_tensor *w, size_t fan_in, size_t fan_out, mrb_rng *rng);

/* ---- convolution (2D and 3D, cross-correlation as in PyTorch) ---- */
typedef enum mrb_act { MRB_ACT_NONE = 0, MRB_ACT_RELU, MRB_ACT_LEAKY_RELU } mrb_act;

typedef struct mrb_conv_cfg {
    int rank; /* 2 (NCHW) or 3 (NCDHW) */
    size_t cin, cout;
    size_t k[3]; /* kernel (d, h, w); 2D uses k[1], k[2] and k[0] = 1 */
    size_t stride[3];
    size_t pad[3]; /* zero padding on both sides */
    size_t dil[3];
    int bias;    /* 1: learnable bias */
    mrb_act act; /* activation fused into the forward */
    float leak;  /* negative slope for MRB_ACT_LEAKY_RELU */
} mrb_conv_cfg;

/* Fills a cfg for a k x k (x k) convolution, stride 1, 'same' padding, dilation 1, bias on. */
mrb_conv_cfg mrb_conv_cfg_same(int rank, size_t cin, size_t cout, size_t k, mrb_act act);

typedef struct mrb_conv {
    mrb_conv_cfg cfg;
    mrb_tensor *weight; /* [cout, cin, kh, kw] or [cout, cin, kd, kh, kw], with grad */
    mrb_tensor *bias;   /* [cout] with grad, or NULL */
    float *work;        /* im2col workspace, grown on demand, reused */
    size_t work_cap;    /* floats */
    float *wpart;       /* per-thread weight-gradient partials + flipped kernel */
    size_t wpart_cap;   /* floats */
    float *wino;        /* Winograd-transformed kernel (3x3 fast path) */
    size_t wino_cap;    /* floats */
} mrb_conv;

mrb_status mrb_conv_create(const mrb_conv_cfg *cfg, mrb_conv **out);
void mrb_conv_free(mrb_conv *c);
/* Output shape for input x; MRB_ERR_INVALID when x does not fit. */
mrb_status mrb_conv_out_shape(const mrb_conv *c, const mrb_tensor *x, size_t shape[MRB_NN_MAX_DIMS]);
/* y = act(conv(x) + b); y preallocated with mrb_conv_out_shape. */
mrb_status mrb_conv_forward(mrb_conv *c, const mrb_tensor *x, mrb_tensor *y);
/* From y->grad (overwritten with the pre-activation gradient): accumulates
 * weight/bias grads and, when x->grad is not NULL, x->grad. y must hold the
 * forward output. */
mrb_status mrb_conv_backward(mrb_conv *c, const mrb_tensor *x, mrb_tensor *y);
/* He-normal weights (fan_in = cin * kernel volume) and zero bias. */
void mrb_conv_init_he(mrb_conv *c, mrb_rng *rng);

/* ---- transposed convolution (PyTorch ConvTranspose2d/3d, output_padding 0) ----
 * cfg describes the transposed layer: cin input channels, cout output
 * channels, kernel, stride, padding, dilation, bias, activation. The weight
 * tensor is [cin, cout, k...] as PyTorch stores it. Output length
 * (in - 1) stride - 2 pad + dil (k - 1) + 1. Same conventions as mrb_conv
 * (free with mrb_conv_free, He init with mrb_conv_init_he); a layer made here
 * runs with mrb_convt_forward / mrb_convt_backward only. Its input gradient is
 * the convolution forward and its forward the convolution's input gradient,
 * so both use the same fast paths (Winograd for 3x3 stride 1). */
mrb_status mrb_convt_create(const mrb_conv_cfg *cfg, mrb_conv **out);
mrb_status mrb_convt_out_shape(const mrb_conv *c, const mrb_tensor *x, size_t shape[MRB_NN_MAX_DIMS]);
mrb_status mrb_convt_forward(mrb_conv *c, const mrb_tensor *x, mrb_tensor *y);
mrb_status mrb_convt_backward(mrb_conv *c, const mrb_tensor *x, mrb_tensor *y);

/* ---- element-wise layers ---- */
/* y = x > 0 ? x : leak * x (leak 0: ReLU). y may equal x (in place). */
mrb_status mrb_nn_leaky_relu_forward(const mrb_tensor *x, mrb_tensor *y, float leak);
/* x->grad += dy * (y > 0 ? 1 : leak), from the output y (valid for leak >= 0). */
mrb_status mrb_nn_leaky_relu_backward(mrb_tensor *x, const mrb_tensor *y, float leak);
/* y = a + b (residual connection). */
mrb_status mrb_nn_add_forward(const mrb_tensor *a, const mrb_tensor *b, mrb_tensor *y);
/* a->grad += dy, b->grad += dy (either grad may be NULL). */
mrb_status mrb_nn_add_backward(mrb_tensor *a, mrb_tensor *b, const mrb_tensor *y);
/* Concatenation along channels (axis 1) of n tensors of equal other dims. */
mrb_status mrb_nn_concat_forward(const mrb_tensor *const *xs, size_t n, mrb_tensor *y);
mrb_status mrb_nn_concat_backward(mrb_tensor *const *xs, size_t n, const mrb_tensor *y);

/* ---- pooling and upsampling (2D and 3D: the axes after N, C) ---- */
typedef enum mrb_pool_kind { MRB_POOL_MAX = 0, MRB_POOL_AVG } mrb_pool_kind;
/* Window k, stride s along every spatial axis, no padding (PyTorch MaxPool/AvgPool defaults
 * with stride s). Output length (in - k) / s + 1. */
mrb_status mrb_nn_pool_out_shape(const mrb_tensor *x, size_t k, size_t s, size_t shape[MRB_NN_MAX_DIMS]);
mrb_status mrb_nn_pool_forward(mrb_pool_kind kind, const mrb_tensor *x, size_t k, size_t s, mrb_tensor *y);
/* x->grad += ...; max pooling routes to the first maximum of each window. */
mrb_status mrb_nn_pool_backward(mrb_pool_kind kind, mrb_tensor *x, size_t k, size_t s, const mrb_tensor *y);
/* Nearest-neighbour upsampling by an integer factor along every spatial axis. */
mrb_status mrb_nn_upsample_forward(const mrb_tensor *x, size_t factor, mrb_tensor *y);
mrb_status mrb_nn_upsample_backward(mrb_tensor *x, size_t factor, const mrb_tensor *y);

/* ---- normalisation ----
 * Batch norm (Ioffe & Szegedy 2015): statistics over N and space per channel
 * in training (biased variance for normalising, unbiased for the running
 * estimate, as PyTorch), running statistics in evaluation. Instance norm
 * (Ulyanov et al. 2016): statistics per item and channel, always. */
typedef struct mrb_norm {
    size_t channels;
    int instance;         /* 1: instance norm */
    double eps;           /* 1e-5 (PyTorch default) */
    double momentum;      /* 0.1 (PyTorch default) */
    mrb_tensor *gamma;    /* [C] with grad, init 1 */
    mrb_tensor *beta;     /* [C] with grad, init 0 */
    float *running_mean;  /* [C] (batch norm), init 0 */
    float *running_var;   /* [C] (batch norm), init 1 */
    float *mean, *invstd; /* saved by the last forward: [C] or [N*C] */
    size_t saved_cap;
    int saved_train;
    int saved_ndim; /* the last forward's input shape: backward refuses another */
    size_t saved_shape[MRB_NN_MAX_DIMS];
} mrb_norm;
mrb_status mrb_norm_create(size_t channels, int instance, mrb_norm **out);
void mrb_norm_free(mrb_norm *b);
/* train: batch statistics (and running update); else running statistics.
 * Batch statistics over a single value per channel (batch norm in training)
 * or per item and channel (instance norm) are refused, as PyTorch does: the
 * variance is 0 and the output would be beta whatever the input. */
mrb_status mrb_norm_forward(mrb_norm *b, const mrb_tensor *x, int train, mrb_tensor *y);
/* From y->grad: x->grad +=, gamma/beta grads +=; uses the last forward's statistics. */
mrb_status mrb_norm_backward(mrb_norm *b, mrb_tensor *x, const mrb_tensor *y);

/* ---- softmax over channels ---- */
mrb_status mrb_nn_softmax_forward(const mrb_tensor *x, mrb_tensor *y);
/* x->grad += y .* (dy - sum_c dy .* y) */
mrb_status mrb_nn_softmax_backward(mrb_tensor *x, const mrb_tensor *y);

/* ---- losses: return the loss, and ADD d(loss)/d(pred) into pred->grad when not NULL ---- */
/* mean over all elements of (pred - target)^2, times `scale`. */
mrb_status mrb_nn_mse_loss(mrb_tensor *pred, const mrb_tensor *target, float scale, double *loss);
/* mean over all elements of |pred - target|. */
mrb_status mrb_nn_l1_loss(mrb_tensor *pred, const mrb_tensor *target, double *loss);

/* Cross-entropy of softmax(logits) over channels against labels (N x spatial
 * values in 0..C-1), mean over voxels; logits->grad += (softmax - onehot) / M. */
mrb_status mrb_nn_softmax_cross_entropy(mrb_tensor *logits, const uint8_t *labels, double *loss);
/* Soft Dice loss 1 - mean_c (2 sum p g + smooth) / (sum p + sum g + smooth) on
 * probabilities p [N, C, ...] (e.g. a softmax) over the whole batch, classes
 * first_class..C-1 (1 leaves out the background); prob->grad += gradient. */
mrb_status mrb_nn_soft_dice_loss(mrb_tensor *prob, const uint8_t *labels, size_t first_class, double smooth,
                                 double *loss);

/* ---- optimisers over a list of parameter tensors (with grad) ---- */
typedef struct mrb_optim mrb_optim;
typedef struct mrb_adam_cfg {
    double lr;           /* 1e-3 (Kingma & Ba 2015) */
    double beta1, beta2; /* 0.9, 0.999 */
    double eps;          /* 1e-8 */
    double weight_decay; /* L2 coefficient c: adds 2 c w to the gradient (loss + c ||w||^2) */
} mrb_adam_cfg;
typedef struct mrb_sgd_cfg {
    double lr;
    double momentum;     /* 0: plain SGD */
    double weight_decay; /* adds 2 c w to the gradient */
} mrb_sgd_cfg;
mrb_adam_cfg mrb_adam_defaults(void);
/* `decay_mask[i]` 1 where weight decay applies to params[i] (NULL: all). The
 * optimiser keeps the pointers; it owns its moment buffers only. */
mrb_status mrb_optim_adam_create(mrb_tensor *const *params, const int *decay_mask, size_t n, const mrb_adam_cfg *cfg,
                                 mrb_optim **out);
mrb_status mrb_optim_sgd_create(mrb_tensor *const *params, const int *decay_mask, size_t n, const mrb_sgd_cfg *cfg,
                                mrb_optim **out);
/* One update from the params' grads (grads not cleared). */
void mrb_optim_step(mrb_optim *o);
void mrb_optim_free(mrb_optim *o);
/* State for checkpoints: step count and moment buffers (2 per param for
 * Adam, 1 for SGD momentum). Returns NULL when index is out of range. */
uint64_t mrb_optim_steps(const mrb_optim *o);
void mrb_optim_set_steps(mrb_optim *o, uint64_t steps);
size_t mrb_optim_nstate(const mrb_optim *o);
float *mrb_optim_state(mrb_optim *o, size_t index, size_t *count);

/* ---- MR data consistency (Schlemper et al., IEEE TMI 2017) ----
 * x: [N, 2, ny, nx] or [N, 2, nt, ny, nx]; kspace: measured MRB_C64 (zero
 * off the mask), N items of [nx, ny, nt] each, contiguous; mask: MRB_F32
 * N x [nx, ny, nt] (non-zero = sampled). Centred orthonormal FFT. */
typedef struct mrb_dc_data {
    size_t nx, ny, nt, n;
    const float *kspace; /* interleaved complex, n * nx * ny * nt pairs */
    const float *mask;   /* n * nx * ny * nt */
} mrb_dc_data;

/* Noiseless (lambda < 0): s_rec = s off the mask, y on it.
 * Noisy (lambda >= 0): s_rec = (s + lambda y) / (1 + lambda) on the mask.
 * out = F^H s_rec with s = F x. */
mrb_status mrb_nn_dc_forward(const mrb_tensor *x, const mrb_dc_data *d, double lambda, mrb_tensor *out);
/* x->grad += F^H Lambda F out->grad; when dlambda is not NULL (noisy form)
 * *dlambda += sum over the mask of Re(conj(F g) (y - s)) / (1 + lambda)^2. */
mrb_status mrb_nn_dc_backward(mrb_tensor *x, const mrb_dc_data *d, double lambda, const mrb_tensor *out,
                              double *dlambda);

/* Data-sharing layer for 2D+t: x [N, 2, nt, ny, nx] -> y [N, 12, nt, ny, nx]:
 * channels 0-1 the input, then for temporal windows of 1, 3, 5, 7, 9 frames
 * (circular) the k-space average, divided by the count of acquired samples in
 * the window (at least 1) when divide_by_acquired, else by the window size;
 * acquired locations take the measured k-space. */
#define MRB_DS_NWINDOWS 5
#define MRB_DS_CHANNELS (2 + 2 * MRB_DS_NWINDOWS)
mrb_status mrb_nn_datashare_forward(const mrb_tensor *x, const mrb_dc_data *d, int divide_by_acquired, mrb_tensor *y);
mrb_status mrb_nn_datashare_backward(mrb_tensor *x, const mrb_dc_data *d, int divide_by_acquired, const mrb_tensor *y);

/* Layout conversion between complex [nx, ny, nt] x n and the nn's 2-channel tensors. */
void mrb_nn_complex_to_tensor(const float *cplx, mrb_tensor *t);
void mrb_nn_tensor_to_complex(const mrb_tensor *t, float *cplx);

/* ---- safetensors (https://github.com/huggingface/safetensors) ---- */
typedef struct mrb_named_tensor {
    const char *name;
    mrb_tensor *t;
} mrb_named_tensor;
/* Writes F32 tensors and string metadata pairs (meta[2i] key, meta[2i+1]
 * value; nmeta pairs) atomically (temp file, fsync, rename). */
mrb_status mrb_safetensors_write(const char *path, const mrb_named_tensor *ts, size_t n, const char *const *meta,
                                 size_t nmeta);
/* Reads into the given tensors (names and shapes must match; extra tensors in
 * the file are an error). Metadata values are returned via get_meta when not
 * NULL: called once per metadata pair. */
mrb_status mrb_safetensors_read(const char *path, const mrb_named_tensor *ts, size_t n,
                                void (*get_meta)(void *ctx, const char *key, const char *value), void *ctx);
/* Reads only the metadata pairs (header checks as above, tensors not read). */
mrb_status mrb_safetensors_read_meta(const char *path, void (*get_meta)(void *ctx, const char *key, const char *value),
                                     void *ctx);

/* ---- Deep Cascade of CNNs (Schlemper et al., IEEE TMI 2017) ---- */
typedef struct mrb_cascade_arch {
    int temporal;  /* 0: 2D (3x3 convs), 1: 2D+t (3x3x3 convs with data sharing) */
    int n_c;       /* cascades */
    int n_d;       /* conv layers per cascade (>= 2) */
    int n_f;       /* filters */
    double lambda; /* DC: < 0 noiseless; >= 0 noisy with this initial lambda */
    int lambda_trainable;
} mrb_cascade_arch;
/* D5-C5 (2D) and D5-C10(S) (2D+t), noiseless DC, n_f 64 (Schlemper et al. 2017). */
mrb_cascade_arch mrb_cascade_arch_default(int temporal);

typedef struct mrb_cascade mrb_cascade;
mrb_status mrb_cascade_create(const mrb_cascade_arch *arch, uint64_t seed, mrb_cascade **out);
void mrb_cascade_free(mrb_cascade *c);
const mrb_cascade_arch *mrb_cascade_get_arch(const mrb_cascade *c);
size_t mrb_cascade_param_count(const mrb_cascade *c);
/* Named parameters in PyTorch state_dict order ("cascades.0.conv.0.weight", ...). */
size_t mrb_cascade_params(mrb_cascade *c, mrb_named_tensor *out, size_t cap);
/* Forward from the zero-filled input x0 (same layout as mrb_nn_dc_forward);
 * keeps activations for mrb_cascade_backward when `train`. The returned
 * tensor is owned by the cascade and valid until the next call. */
mrb_status mrb_cascade_forward(mrb_cascade *c, const mrb_tensor *x0, const mrb_dc_data *d, int train,
                               const mrb_tensor **out);
/* Accumulates parameter gradients from dout (d loss / d output). */
mrb_status mrb_cascade_backward(mrb_cascade *c, const float *dout);
void mrb_cascade_zero_grad(mrb_cascade *c);
mrb_status mrb_cascade_save(const mrb_cascade *c, const char *path);
/* As mrb_cascade_save, with further metadata pairs (meta[2i] key, meta[2i+1]
 * value; nmeta pairs), e.g. how the weights were trained. */
mrb_status mrb_cascade_save_meta(const mrb_cascade *c, const char *path, const char *const *meta, size_t nmeta);
/* Loads weights; the file's architecture must match c's. */
mrb_status mrb_cascade_load(mrb_cascade *c, const char *path);
/* Creates a cascade with the architecture recorded in the file and loads it. */
mrb_status mrb_cascade_open(const char *path, mrb_cascade **out);

/* Reconstruction: kspace MRB_C64 [nx, ny, nt, 1], mask MRB_F32 [nx, ny, nt]
 * -> image MRB_C64 [nx, ny, nt] (2D: the nt frames as a batch). */
mrb_status mrb_cascade_reconstruct(mrb_cascade *c, const mrb_array *kspace, const mrb_array *mask, mrb_array *image);

/* ---- training ---- */
typedef struct mrb_cascade_progress {
    int epoch;       /* 1-based */
    size_t step;     /* global step count */
    double loss;     /* last minibatch loss (MSE + weight decay) */
    double val_psnr; /* dB, NAN within an epoch */
    int epoch_end;   /* 1 on the call after validation */
} mrb_cascade_progress;

typedef struct mrb_cascade_train_opts {
    mrb_cascade_arch arch;
    /* Training and validation items: MRB_C64 [nx, ny, nt] ground truth, all
     * of one shape. 2D: every frame is one sample. */
    const mrb_array *const *train;
    size_t ntrain;
    const mrb_array *const *val;
    size_t nval;
    /* Mask per minibatch: make(ctx, seed, nx, ny, nt, &mask) (MRB_F32 [nx, ny, nt]);
     * NULL uses the registered "cartesian-vd" sampler (the released code's
     * cartesian_mask) with `acceleration` and `sample_n` centre lines. */
    mrb_status (*make_mask)(void *ctx, uint64_t seed, size_t nx, size_t ny, size_t nt, mrb_array **mask);
    void *mask_ctx;
    double acceleration;
    int sample_n; /* centre lines always taken (released code: 10) */
    int epochs;
    int batch;           /* 2D: 10; 2D+t: 1 (released code) */
    double lr;           /* Adam, 1e-3 */
    double weight_decay; /* 1e-6 */
    uint64_t seed;
    int nthreads;
    const char *checkpoint;  /* written each epoch (atomic), or NULL */
    int resume;              /* 1: continue from `checkpoint` when it exists */
    const char *weights_out; /* final weights (safetensors), or NULL */
    /* Metadata pairs written with the final weights (e.g. provenance); the
     * training adds training_steps, training_epochs and training_val_psnr. */
    const char *const *weights_meta;
    size_t nweights_meta;
    /* Progress callback (may be NULL); a non-zero return stops training cleanly. */
    int (*progress)(void *ctx, const mrb_cascade_progress *p);
    void *progress_ctx;
    /* Where the training steps run: NULL on the CPU, else a device such as
     * mrb_cascade_train_device_gpu(). Masks, minibatches, checkpoints and
     * resume stay the same; validation runs on the device when it can
     * reconstruct, else on the CPU with the weights synced back. */
    const struct mrb_cascade_train_device *device;
} mrb_cascade_train_opts;

/* The inputs of a training minibatch from its ground truth, as the CPU
 * training computes them: kspace = M F images (centred orthonormal 2D FFT,
 * zero off the mask; interleaved complex), x0 = F^H kspace and target =
 * images as tensors [n, 2, (snt,) ny, nx]. images, mask, kspace and the
 * scratch zf hold n x [nx, ny, snt] values; kspace may be images. */
mrb_status mrb_cascade_train_inputs(const float *images, const float *mask, size_t nx, size_t ny, size_t snt, size_t n,
                                    float *kspace, float *zf, mrb_tensor *x0, mrb_tensor *target);

/* A device that runs the training steps. open: uploads net's parameters and
 * the Adam moments of its trainable tensors (opt's state, mrb_optim_state
 * order) for minibatches of `batch` samples of [nx, ny, snt] (2D: snt 1).
 * step: from the minibatch's host images (interleaved complex) and masks,
 * batch x [nx, ny, snt] each, derives the inputs as mrb_cascade_train_inputs
 * does, runs forward, loss (mean |e|^2 over complex pixels), backward and
 * Adam step number t (1-based); returns the loss and the sum of squares of
 * the decayed weights after the step. sync: parameters and Adam moments
 * back into net and opt. reconstruct (may be NULL): one validation item as
 * mrb_cascade_reconstruct takes it (k-space MRB_C64 [nx, ny, nt], mask,
 * image), with the device's current weights. */
typedef struct mrb_cascade_train_device {
    const char *name;
    mrb_status (*open)(mrb_cascade *net, mrb_optim *opt, const mrb_adam_cfg *adam, size_t batch, size_t nx, size_t ny,
                       size_t snt, void **state);
    mrb_status (*step)(void *state, const float *images, const float *mask, uint64_t t, double *mse,
                       double *weight_norm2);
    mrb_status (*sync)(void *state, mrb_cascade *net, mrb_optim *opt);
    mrb_status (*reconstruct)(void *state, const mrb_array *kspace, const mrb_array *mask, mrb_array *image);
    void (*close)(void *state);
} mrb_cascade_train_device;

/* The GPU's training device (CUDA builds: gpu/recon/cascade_train_cuda.c),
 * NULL in builds without CUDA. Its open fails when no GPU is usable. */
const mrb_cascade_train_device *mrb_cascade_train_device_gpu(void);

mrb_cascade_train_opts mrb_cascade_train_defaults(int temporal);
/* Trains; writes weights_out. `final_psnr` (may be NULL) receives the last validation PSNR. */
mrb_status mrb_cascade_train(const mrb_cascade_train_opts *opts, double *final_psnr);

#ifdef __cplusplus
}
#endif
#endif
