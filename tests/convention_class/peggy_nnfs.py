"""peggy_nnfs.py -- student: Peggy.

Style: the "Neural Networks from Scratch" (nnfs) book. forward() and
backward() RETURN NOTHING: forward(inputs) stores ``self.output``;
backward(dvalues) stores ``self.dinputs`` (and ``self.dweights`` /
``self.dbiases`` for layers with parameters). Conv/pool/flatten are Peggy's
additions in the same style.

    Layer_Conv2D(n_input_channels, n_filters, kernel_size, stride=1, padding=0)
        self.weights (n_filters, n_input_channels, k, k), self.biases (1, n_filters)
    Layer_MaxPool2D(pool_size=2, stride=2)
    Activation_ReLU()
    Layer_Flatten()
    Layer_Dense(n_inputs, n_neurons)
        self.weights (n_inputs, n_neurons), self.biases (1, n_neurons); output = inputs @ weights + biases
    Activation_LogSoftmax()
    Loss_NLL(): nnfs loss API --
        forward(y_pred, y_true) RETURNS the per-sample losses (shape (N,));
        calculate(output, y) returns their MEAN (the batch loss);
        backward(dvalues, y_true) stores self.dinputs = gradient of the MEAN loss.
Data NCHW; y_true are integer labels (one-hot also accepted, as in nnfs).
"""
import numpy as np


class Layer_Conv2D:
    def __init__(self, n_input_channels, n_filters, kernel_size, stride=1, padding=0):
        self.k = kernel_size
        self.stride = stride
        self.padding = padding
        self.weights = 0.01 * np.random.randn(n_filters, n_input_channels, kernel_size, kernel_size)
        self.biases = np.zeros((1, n_filters))

    def forward(self, inputs):
        self.inputs = inputs
        k, s, p = self.k, self.stride, self.padding
        n, c, h, w = inputs.shape
        f = self.weights.shape[0]
        out_h = (h + 2 * p - k) // s + 1
        out_w = (w + 2 * p - k) // s + 1
        self.padded = np.pad(inputs, ((0, 0), (0, 0), (p, p), (p, p)))
        self.output = np.zeros((n, f, out_h, out_w))
        for y in range(out_h):
            for x in range(out_w):
                region = self.padded[:, :, y * s:y * s + k, x * s:x * s + k]
                self.output[:, :, y, x] = np.einsum('nchw,fchw->nf', region, self.weights)
        self.output += self.biases.reshape(1, f, 1, 1)

    def backward(self, dvalues):
        k, s, p = self.k, self.stride, self.padding
        n, c, h, w = self.inputs.shape
        out_h, out_w = dvalues.shape[2], dvalues.shape[3]
        self.dweights = np.zeros_like(self.weights)
        self.dbiases = np.sum(dvalues, axis=(0, 2, 3)).reshape(1, -1)
        dpadded = np.zeros_like(self.padded, dtype=float)
        for y in range(out_h):
            for x in range(out_w):
                region = self.padded[:, :, y * s:y * s + k, x * s:x * s + k]
                dv = dvalues[:, :, y, x]
                self.dweights += np.einsum('nf,nchw->fchw', dv, region)
                dpadded[:, :, y * s:y * s + k, x * s:x * s + k] += np.einsum('nf,fchw->nchw', dv, self.weights)
        self.dinputs = dpadded[:, :, p:p + h, p:p + w]


class Layer_MaxPool2D:
    def __init__(self, pool_size=2, stride=2):
        self.pool_size = pool_size
        self.stride = stride

    def forward(self, inputs):
        self.inputs = inputs
        ps, s = self.pool_size, self.stride
        n, c, h, w = inputs.shape
        out_h = (h - ps) // s + 1
        out_w = (w - ps) // s + 1
        self.output = np.zeros((n, c, out_h, out_w))
        self.max_positions = np.zeros((n, c, out_h, out_w), dtype=int)
        for y in range(out_h):
            for x in range(out_w):
                region = inputs[:, :, y * s:y * s + ps, x * s:x * s + ps].reshape(n, c, -1)
                self.max_positions[:, :, y, x] = np.argmax(region, axis=2)
                self.output[:, :, y, x] = np.max(region, axis=2)

    def backward(self, dvalues):
        ps, s = self.pool_size, self.stride
        n, c, h, w = self.inputs.shape
        self.dinputs = np.zeros_like(self.inputs, dtype=float)
        for b in range(n):
            for ch in range(c):
                for y in range(dvalues.shape[2]):
                    for x in range(dvalues.shape[3]):
                        pos = self.max_positions[b, ch, y, x]
                        self.dinputs[b, ch, y * s + pos // ps, x * s + pos % ps] += dvalues[b, ch, y, x]


class Activation_ReLU:
    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues):
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0


class Layer_Flatten:
    def forward(self, inputs):
        self.inputs_shape = inputs.shape
        self.output = inputs.reshape(inputs.shape[0], -1)

    def backward(self, dvalues):
        self.dinputs = dvalues.reshape(self.inputs_shape)


class Layer_Dense:
    def __init__(self, n_inputs, n_neurons):
        self.weights = 0.01 * np.random.randn(n_inputs, n_neurons)
        self.biases = np.zeros((1, n_neurons))

    def forward(self, inputs):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues):
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = np.dot(dvalues, self.weights.T)


class Activation_LogSoftmax:
    def forward(self, inputs):
        self.inputs = inputs
        shifted = inputs - np.max(inputs, axis=1, keepdims=True)
        self.output = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))

    def backward(self, dvalues):
        softmax = np.exp(self.output)
        self.dinputs = dvalues - softmax * np.sum(dvalues, axis=1, keepdims=True)


class Loss:
    def calculate(self, output, y):
        sample_losses = self.forward(output, y)
        data_loss = np.mean(sample_losses)
        return data_loss


class Loss_NLL(Loss):
    def forward(self, y_pred, y_true):
        samples = len(y_pred)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        return -y_pred[range(samples), y_true]

    def backward(self, dvalues, y_true):
        samples = len(dvalues)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = np.zeros_like(dvalues)
        self.dinputs[range(samples), y_true] = -1
        self.dinputs = self.dinputs / samples
