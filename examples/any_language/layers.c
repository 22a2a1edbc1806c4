#include "layers.h"

void relu_forward(const Array *x, Array *y) {
    *y = array_new(x->ndim, x->shape);
    for (long i = 0; i < x->size; i++) y->data[i] = x->data[i] > 0 ? x->data[i] : 0.0;
}

void relu_backward(const Array *x, const Array *dy, Array *dx) {
    *dx = array_new(x->ndim, x->shape);
    for (long i = 0; i < x->size; i++) dx->data[i] = x->data[i] > 0 ? dy->data[i] : 0.0;
}

void linear_forward(const Array *x, const Array *weight, const Array *bias, Array *y) {
    long n = x->shape[0], in = x->shape[1], out = weight->shape[0];
    long shape[2] = {n, out};
    *y = array_new(2, shape);
    for (long b = 0; b < n; b++)
        for (long o = 0; o < out; o++) {
            double sum = bias ? bias->data[o] : 0.0;
            for (long i = 0; i < in; i++) sum += x->data[b * in + i] * weight->data[o * in + i];
            y->data[b * out + o] = sum;
        }
}

void linear_backward(const Array *x, const Array *weight, const Array *dy, Array *dx, Array *grad_weight,
                     Array *grad_bias) {
    long n = x->shape[0], in = x->shape[1], out = weight->shape[0];
    long dx_shape[2] = {n, in}, gw_shape[2] = {out, in}, gb_shape[1] = {out};
    *dx = array_new(2, dx_shape);
    *grad_weight = array_new(2, gw_shape);
    *grad_bias = array_new(1, gb_shape);
    for (long b = 0; b < n; b++)
        for (long o = 0; o < out; o++) {
            double g = dy->data[b * out + o];
            grad_bias->data[o] += g;
            for (long i = 0; i < in; i++) {
                dx->data[b * in + i] += g * weight->data[o * in + i];
                grad_weight->data[o * in + i] += g * x->data[b * in + i];
            }
        }
#ifdef PLANTED_BUG  /* `make answer-buggy`: the classic slip, the bias gradient averaged over the batch */
    for (long o = 0; o < out; o++) grad_bias->data[o] /= (double)n;
#endif
}
