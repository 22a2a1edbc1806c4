/* ReLU and Linear, forward and backward, with torch's semantics; every array in double precision. */
#ifndef LAYERS_H
#define LAYERS_H

#include "npy.h"

/* y = max(x, 0); dx = dy where x > 0, else 0 (torch passes no gradient at exactly 0). */
void relu_forward(const Array *x, Array *y);
void relu_backward(const Array *x, const Array *dy, Array *dx);

/* x (N, in), weight (out, in), bias (out) or NULL: y (N, out) = x weight^T + bias. */
void linear_forward(const Array *x, const Array *weight, const Array *bias, Array *y);
/* dx (N, in) = dy weight; grad_weight (out, in) = dy^T x; grad_bias (out) = the sum of dy over the batch. */
void linear_backward(const Array *x, const Array *weight, const Array *dy, Array *dx, Array *grad_weight,
                     Array *grad_bias);

#endif
