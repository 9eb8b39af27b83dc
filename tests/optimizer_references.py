"""Independent numpy implementations of the update rules, written from the papers' formulas."""

import numpy as np


def nesterov(w, gradients, learning_rates, momentum, maximize=False, weight_decay=0.0):
    """Sutskever et al. (2013) / PyTorch SGD(nesterov=True): v = mu v + g; w -= lr (g + mu v)."""
    w = np.array(w, dtype=np.float64)
    v = np.zeros_like(w)
    for g, lr in zip(gradients, learning_rates):
        g = -np.asarray(g, np.float64) if maximize else np.asarray(g, np.float64)
        w = w - lr * weight_decay * w
        v = momentum * v + g
        w = w - lr * (g + momentum * v)
    return w


def adam(
    w, gradients, lr, beta_1, beta_2, epsilon, amsgrad=False, maximize=False, weight_decay=0.0
):
    """Kingma & Ba (2015), epsilon-hat form; AMSGrad (Reddi et al. 2018); decoupled decay."""
    w = np.array(w, dtype=np.float64)
    m, v, v_max = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(gradients, start=1):
        g = -np.asarray(g, np.float64) if maximize else np.asarray(g, np.float64)
        w = w - lr * weight_decay * w
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        v_max = np.maximum(v_max, v)
        denominator = np.sqrt(v_max if amsgrad else v) + epsilon
        w = w - lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / denominator
    return w


def conjugate_gradient_beta(method, g, g_prev, d_prev):
    """The four classic beta rules on flat vectors (Nocedal & Wright 2006, eq. 5.41-5.49)."""
    y = g - g_prev
    if method == "fletcher_reeves":
        return g @ g / (g_prev @ g_prev)
    if method == "polak_ribiere":
        return max(0.0, g @ y / (g_prev @ g_prev))
    if method == "hestenes_stiefel":
        return g @ y / (d_prev @ y)
    if method == "dai_yuan":
        return g @ g / (d_prev @ y)
    raise ValueError(method)


def conjugate_gradient(ws, gradient_steps, lr, method, restart_every=None, maximize=False):
    """Fixed-step nonlinear CG over several arrays, with one global beta per step."""
    sizes = [np.size(w) for w in ws]
    x = np.concatenate([np.ravel(w) for w in ws]).astype(np.float64)
    g_prev = d_prev = None
    for k, gradients in enumerate(gradient_steps):
        g = np.concatenate([np.ravel(gr) for gr in gradients]).astype(np.float64)
        g = -g if maximize else g
        restart = k == 0 or (restart_every and k % restart_every == 0)
        beta = 0.0 if restart else conjugate_gradient_beta(method, g, g_prev, d_prev)
        d = -g + beta * (d_prev if d_prev is not None else 0.0)
        x = x + lr * d
        g_prev, d_prev = g, d
    parts = np.split(x, np.cumsum(sizes)[:-1])
    return [p.reshape(np.shape(w)) for p, w in zip(parts, ws)]
