package org.distillery.kit.optim;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.LinkedHashMap;
import java.util.Map;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

/**
 * AdamW (Loshchilov and Hutter, 2019): Adam moments with bias correction and weight decay
 * decoupled from the gradient, {@code p -= lr * (m_hat / (sqrt(v_hat) + eps) + wd * p)}.
 * Temporaries live in a scratch manager per step, so memory stays flat over a run. The moments and
 * the step count are saved with {@link #save} and restored with {@link #load}, so a resumed run
 * continues exactly.
 *
 * <pre>
 * AdamW opt = new AdamW(params, 0.9f, 0.999f, 1e-8f, 0.01f, context.manager());
 * // after backward:
 * double norm = opt.stepClipped(lr, 1.0);     // clip to norm 1, update, zero the gradients
 * </pre>
 */
public final class AdamW {

    private final Map<String, NDArray> params;
    private final Map<String, NDArray> m = new LinkedHashMap<>();
    private final Map<String, NDArray> v = new LinkedHashMap<>();
    private final float beta1;
    private final float beta2;
    private final float eps;
    private final float weightDecay;
    private final NDManager manager;
    private long t;

    /**
     * Creates the optimizer; moments are zero.
     *
     * @param params the trained arrays by name (gradients attached)
     * @param manager where the moments live (the run's manager)
     */
    public AdamW(Map<String, NDArray> params, float beta1, float beta2, float eps, float weightDecay,
                 NDManager manager) {
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
    public long steps() {
        return t;
    }

    /** Applies one update with learning rate {@code lr}, scaling gradients by {@code gradScale} first. */
    public void step(double lr, double gradScale) {
        t++;
        double c1 = 1 - Math.pow(beta1, t);
        double c2 = 1 - Math.pow(beta2, t);
        try (NDManager scratch = manager.newSubManager()) {
            for (Map.Entry<String, NDArray> e : params.entrySet()) {
                NDArray p = e.getValue();
                NDArray g = p.getGradient();
                g.attach(scratch);
                if (gradScale != 1.0) {
                    g = g.mul((float) gradScale);
                }
                NDArray mi = m.get(e.getKey());
                NDArray vi = v.get(e.getKey());
                mi.muli(beta1).addi(g.mul(1 - beta1));
                vi.muli(beta2).addi(g.square().muli(1 - beta2));
                NDArray denom = vi.div((float) c2);
                denom.attach(scratch);
                denom = denom.sqrt().addi(eps);
                NDArray update = mi.div((float) c1);
                update.attach(scratch);
                update = update.divi(denom);
                if (weightDecay != 0) {
                    p.muli((float) (1 - lr * weightDecay));
                }
                p.subi(update.muli((float) lr));
            }
        }
    }

    /**
     * Clips the gradients to a global norm of at most {@code clipNorm} (0: no clipping), applies one
     * update and zeroes the gradients.
     *
     * @return the gradient norm before clipping, or NaN when it was not finite (then no update is made)
     */
    public double stepClipped(double lr, double clipNorm) {
        double norm = gradientNorm(params, manager);
        if (!Double.isFinite(norm)) {
            zeroGradients(params, manager);
            return Double.NaN;
        }
        double scale = clipNorm > 0 && norm > clipNorm ? clipNorm / (norm + 1e-6) : 1.0;
        step(lr, scale);
        zeroGradients(params, manager);
        return norm;
    }

    /** The global L2 norm of the gradients of {@code params}; temporaries live in a sub-manager of {@code scratch}. */
    public static double gradientNorm(Map<String, NDArray> params, NDManager scratch) {
        double sq = 0;
        try (NDManager m = scratch.newSubManager()) {
            for (NDArray p : params.values()) {
                NDArray g = p.getGradient();
                g.attach(m);
                sq += g.square().sum().getFloat();
            }
        }
        return Math.sqrt(sq);
    }

    /** Zeroes the gradients of {@code params} (a NaN gradient too, which {@code g * 0} would keep). */
    public static void zeroGradients(Map<String, NDArray> params, NDManager scratch) {
        try (NDManager m = scratch.newSubManager()) {
            for (NDArray p : params.values()) {
                NDArray g = p.getGradient();
                g.attach(m);
                g.muli(0);
                NDArray nan = g.isNaN();
                if (nan.any().getBoolean()) {
                    // in place, in the engine's memory: NDArray.set(Buffer) would make the gradient's
                    // storage a Java buffer that is freed once this handle is gone
                    g.set(nan, 0);
                }
            }
        }
    }

    /** Writes moments and step count. */
    public void save(OutputStream out) throws IOException {
        NDList list = new NDList();
        for (String name : params.keySet()) {
            NDArray mi = m.get(name);
            mi.setName("m." + name);
            NDArray vi = v.get(name);
            vi.setName("v." + name);
            list.add(mi);
            list.add(vi);
        }
        NDArray step = manager.create(new long[] {t});
        step.setName("t");
        list.add(step);
        list.encode(out);
        step.close();
    }

    /** Restores what {@link #save} wrote; names and shapes must match. */
    public void load(InputStream in) throws IOException {
        try (NDManager scratch = manager.newSubManager()) {
            NDList list = NDList.decode(scratch, in);
            Map<String, NDArray> byName = new LinkedHashMap<>();
            for (NDArray a : list) {
                byName.put(a.getName(), a);
            }
            if (!byName.containsKey("t")) {
                throw new IOException("optimizer state has no step count");
            }
            for (String name : params.keySet()) {
                NDArray ms = byName.get("m." + name);
                NDArray vs = byName.get("v." + name);
                if (ms == null || vs == null || !ms.getShape().equals(m.get(name).getShape())) {
                    throw new IOException("optimizer state does not match parameter " + name);
                }
                m.get(name).set(ms.toByteBuffer());
                v.get(name).set(vs.toByteBuffer());
            }
            t = byName.get("t").getLong();
        }
    }
}
