package org.distillery.moe.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.LinkedHashMap;
import java.util.Map;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

/**
 * AdamW over the router weights of a Student-Aware Routing teacher, separate from the
 * student's optimizer and learning rate: {@code p -= lr * (m_hat / (sqrt(v_hat) + eps) + wd * p)},
 * after scaling the gradients to a global norm of at most {@code clipNorm}. Runs outside any
 * gradient collector; temporaries live in a scratch manager per step.
 */
final class RouterAdam {

    private final Map<String, NDArray> params;
    private final Map<String, NDArray> m = new LinkedHashMap<>();
    private final Map<String, NDArray> v = new LinkedHashMap<>();
    private final float beta1;
    private final float beta2;
    private final float eps;
    private final float weightDecay;
    private final NDManager manager;
    private long t;

    RouterAdam(Map<String, NDArray> params, float beta1, float beta2, float eps, float weightDecay, NDManager manager) {
        this.params = params;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.manager = manager;
        params.forEach((name, p) -> {
            m.put(name, manager.zeros(p.getShape(), p.getDataType()));
            v.put(name, manager.zeros(p.getShape(), p.getDataType()));
        });
    }

    /** Steps taken. */
    long steps() {
        return t;
    }

    /**
     * Applies one update from the parameters' gradients, then zeroes them.
     *
     * @return the gradient norm before clipping, or NaN when it was not finite (no update then)
     */
    double step(double lr, double clipNorm) {
        try (NDManager scratch = manager.newSubManager()) {
            Map<String, NDArray> grads = new LinkedHashMap<>();
            double sq = 0;
            for (Map.Entry<String, NDArray> e : params.entrySet()) {
                NDArray g = e.getValue().getGradient();
                g.attach(scratch);
                grads.put(e.getKey(), g.duplicate());
                sq += g.square().sum().getFloat();
                g.muli(0);
                if (g.isNaN().any().getBoolean()) {
                    g.set(new float[(int) g.size()]);
                }
            }
            double norm = Math.sqrt(sq);
            if (!Double.isFinite(norm)) {
                return Double.NaN;
            }
            float scale = clipNorm > 0 && norm > clipNorm ? (float) (clipNorm / (norm + 1e-6)) : 1f;
            t++;
            float c1 = (float) (1 - Math.pow(beta1, t));
            float c2 = (float) (1 - Math.pow(beta2, t));
            for (Map.Entry<String, NDArray> e : params.entrySet()) {
                NDArray p = e.getValue();
                NDArray g = grads.get(e.getKey());
                if (scale != 1f) {
                    g = g.mul(scale);
                }
                NDArray mi = m.get(e.getKey());
                NDArray vi = v.get(e.getKey());
                mi.muli(beta1).addi(g.mul(1 - beta1));
                vi.muli(beta2).addi(g.square().muli(1 - beta2));
                NDArray denom = vi.div(c2);
                denom.attach(scratch);
                denom = denom.sqrt().addi(eps);
                NDArray update = mi.div(c1);
                update.attach(scratch);
                update = update.divi(denom);
                if (weightDecay != 0) {
                    p.muli((float) (1 - lr * weightDecay));
                }
                p.subi(update.muli((float) lr));
            }
            return norm;
        }
    }

    /** Writes moments and step count. */
    void save(OutputStream out) throws IOException {
        NDList list = new NDList();
        for (String name : params.keySet()) {
            m.get(name).setName("m." + name);
            v.get(name).setName("v." + name);
            list.add(m.get(name));
            list.add(v.get(name));
        }
        try (NDArray step = manager.create(new long[] {t})) {
            step.setName("t");
            list.add(step);
            list.encode(out);
        }
    }

    /** Restores what {@link #save} wrote; names and shapes must match. */
    void load(InputStream in) throws IOException {
        try (NDManager scratch = manager.newSubManager()) {
            Map<String, NDArray> byName = new LinkedHashMap<>();
            for (NDArray a : NDList.decode(scratch, in)) {
                byName.put(a.getName(), a);
            }
            if (!byName.containsKey("t")) {
                throw new IOException("router optimizer state has no step count");
            }
            for (String name : params.keySet()) {
                NDArray ms = byName.get("m." + name);
                NDArray vs = byName.get("v." + name);
                if (ms == null || vs == null || !ms.getShape().equals(m.get(name).getShape())) {
                    throw new IOException("router optimizer state does not match parameter " + name);
                }
                m.get(name).set(ms.toByteBuffer());
                v.get(name).set(vs.toByteBuffer());
            }
            t = byName.get("t").getLong();
        }
    }
}
