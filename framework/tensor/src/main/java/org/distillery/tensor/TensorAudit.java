package org.distillery.tensor;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import ai.djl.Device;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * Watches where arrays are created, so that a test (or an operator chasing a leak) can show that
 * every array of models, losses, teachers and samplers lives under the tensor service's base
 * manager, on its device.
 *
 * <p>DJL attaches every new array, and every new manager, to a manager: a base manager from
 * {@code NDManager.newBaseManager()} is attached to the engine's system manager, the root of all
 * managers. The audit replaces the resource map of the system manager and of every manager of the
 * service's tree (each new sub-manager as it is attached) with one that sees each attachment. An
 * attachment to the system manager other than the service's own base manager is a manager or an
 * array created outside the service; an array attached inside the tree on a device other than the
 * service's is misplaced. In {@link Mode#STRICT} either throws at once, in the code that did it;
 * in {@link Mode#RECORD} it is counted and its stack kept ({@link #violations()}).
 *
 * <p>Modes come from {@code DISTILL_TENSOR_AUDIT} (or {@code -Ddistill.tensor-audit}): {@code off}
 * (the default), {@code record}, {@code strict}. The audit costs one map wrapper per manager and a
 * device comparison per array, and is meant for tests and diagnosis.
 */
public final class TensorAudit {

    /** What the audit does. */
    public enum Mode {
        /** No audit. */
        OFF,
        /** Count violations and keep their stacks. */
        RECORD,
        /** Throw {@link IllegalStateException} where a violation happens. */
        STRICT;

        /** The mode named by {@code DISTILL_TENSOR_AUDIT} / {@code -Ddistill.tensor-audit}, default off. */
        public static Mode configured() {
            String v = System.getProperty(PROPERTY, System.getenv(ENV));
            return parse(v == null ? "off" : v);
        }

        /** Parses {@code off}, {@code record} or {@code strict}. */
        public static Mode parse(String s) {
            return switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "", "off", "false", "0" -> OFF;
                case "record" -> RECORD;
                case "strict", "true", "1" -> STRICT;
                default -> throw new InvalidTensorSettingException(ENV + ": expected off, record or strict (got \"" + s + "\")");
            };
        }
    }

    /** The environment variable naming the mode. */
    public static final String ENV = "DISTILL_TENSOR_AUDIT";
    /** The system property naming the mode (wins over the environment). */
    public static final String PROPERTY = "distill.tensor-audit";

    private static final int KEPT_STACKS = 20;

    private final Mode mode;
    private final NDManager base;
    private final Device device;
    private final AtomicLong watchedManagers = new AtomicLong();
    private final AtomicLong arrays = new AtomicLong();
    private final List<String> violations = Collections.synchronizedList(new ArrayList<>());
    private final AtomicLong violationCount = new AtomicLong();

    private TensorAudit(Mode mode, NDManager base, Device device) {
        this.mode = mode;
        this.base = base;
        this.device = device;
    }

    /**
     * Starts auditing the tree of {@code base} (a base manager, child of the engine's system
     * manager) for {@code device}.
     */
    static TensorAudit install(Mode mode, NDManager base, Device device) {
        TensorAudit audit = new TensorAudit(mode, base, device);
        if (mode != Mode.OFF) {
            NDManager system = base.getParentManager();
            synchronized (system) {
                if (resources(system) instanceof TensorAudit.WatchingMap) {
                    throw new IllegalStateException("tensor audit: another audited tensor service is open in this "
                            + "process; the audit watches one at a time");
                }
                audit.watch(system, true);
            }
            audit.watch(base, false);
        }
        return audit;
    }

    /** Stops watching the engine's system manager (the service's own managers are closed with it). */
    void close() {
        if (mode == Mode.OFF) {
            return;
        }
        NDManager system = base.getParentManager();
        synchronized (system) {
            Map<String, AutoCloseable> current = resources(system);
            if (current instanceof TensorAudit.WatchingMap w && w.owner() == this) {
                ConcurrentHashMap<String, AutoCloseable> plain = new ConcurrentHashMap<>(current);
                setResources(system, plain);
            }
        }
    }

    /** The mode. */
    public Mode mode() {
        return mode;
    }

    /** Arrays attached inside the service's tree since the audit started. */
    public long arraysSeen() {
        return arrays.get();
    }

    /** Managers of the service's tree the audit watches (created since it started, plus the base). */
    public long managersWatched() {
        return watchedManagers.get();
    }

    /** Violations seen. */
    public long violationCount() {
        return violationCount.get();
    }

    /** The first violations, each with the stack of the code that caused it. */
    public List<String> violations() {
        synchronized (violations) {
            return List.copyOf(violations);
        }
    }

    /** E.g. {@code strict: 1234 arrays in 56 managers, 0 violations}. */
    public String describe() {
        if (mode == Mode.OFF) {
            return "off (" + ENV + "=record or strict to check where arrays are created)";
        }
        return mode.name().toLowerCase(Locale.ROOT) + ": " + arrays.get() + " arrays in " + watchedManagers.get()
                + " managers, " + violationCount.get() + " violation(s)";
    }

    private void watch(NDManager manager, boolean system) {
        if (!(manager instanceof BaseNDManager)) {
            return;
        }
        synchronized (manager) {
            Map<String, AutoCloseable> current = resources(manager);
            WatchingMap map = new WatchingMap(system);
            map.putAllQuietly(current);
            setResources(manager, map);
        }
        if (!system) {
            watchedManagers.incrementAndGet();
        }
    }

    private void attached(boolean system, AutoCloseable resource) {
        if (system) {
            if (resource != base) {
                violation((resource instanceof NDManager ? "a manager" : "an array") + " was created outside the "
                        + "tensor service (attached to the engine's system manager, not under the service's base "
                        + "manager): " + describe(resource));
            }
            return;
        }
        if (resource instanceof NDManager m) {
            watch(m, false);
        } else if (resource instanceof NDArray a) {
            arrays.incrementAndGet();
            if (!device.equals(a.getDevice())) {
                violation("an array was created on " + a.getDevice() + ", not on the service's device " + device + ": "
                        + describe(resource));
            }
        }
    }

    private void violation(String what) {
        violationCount.incrementAndGet();
        if (mode == Mode.STRICT) {
            throw new IllegalStateException("tensor audit (" + ENV + "=strict): " + what);
        }
        StringBuilder s = new StringBuilder(what);
        StackTraceElement[] stack = new Throwable().getStackTrace();
        for (StackTraceElement e : stack) {
            String c = e.getClassName();
            if (!c.equals(TensorAudit.class.getName()) && !c.equals(WatchingMap.class.getName())
                    && !c.startsWith("java.util.concurrent")) {
                s.append("\n    at ").append(e);
            }
        }
        synchronized (violations) {
            if (violations.size() < KEPT_STACKS) {
                violations.add(s.toString());
            }
        }
    }

    private static String describe(AutoCloseable resource) {
        if (resource instanceof NDArray a) {
            return "array " + a.getShape() + " " + a.getDataType() + (a.getName() == null ? "" : " '" + a.getName() + "'");
        }
        if (resource instanceof NDManager m) {
            return "manager '" + m.getName() + "' on " + m.getDevice();
        }
        return resource.getClass().getName();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, AutoCloseable> resources(NDManager manager) {
        try {
            return (Map<String, AutoCloseable>) resourcesField().get(manager);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("tensor audit: cannot read the resources of " + manager, e);
        }
    }

    private static void setResources(NDManager manager, ConcurrentHashMap<String, AutoCloseable> map) {
        try {
            resourcesField().set(manager, map);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("tensor audit: cannot watch " + manager, e);
        }
    }

    private static Field resourcesField() {
        try {
            Field f = BaseNDManager.class.getDeclaredField("resources");
            f.setAccessible(true);
            return f;
        } catch (NoSuchFieldException e) {
            throw new IllegalStateException("tensor audit: this DJL version has no BaseNDManager.resources; "
                    + "the audit needs DJL 0.36's manager layout", e);
        }
    }

    /** A manager's resource map that tells the audit about each attachment. */
    private final class WatchingMap extends ConcurrentHashMap<String, AutoCloseable> {
        private static final long serialVersionUID = 1L;
        private final boolean system;

        WatchingMap(boolean system) {
            this.system = system;
        }

        TensorAudit owner() {
            return TensorAudit.this;
        }

        void putAllQuietly(Map<String, AutoCloseable> m) {
            for (Map.Entry<String, AutoCloseable> e : m.entrySet()) {
                super.put(e.getKey(), e.getValue());
            }
        }

        @Override
        public AutoCloseable put(String key, AutoCloseable value) {
            attached(system, value);
            return super.put(key, value);
        }
    }
}
