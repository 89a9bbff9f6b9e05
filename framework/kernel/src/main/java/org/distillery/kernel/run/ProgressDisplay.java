package org.distillery.kernel.run;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;

/**
 * Shows a run's progress from its step records: a bar redrawn in place on a terminal (step,
 * loss, tokens/s, ETA), or a plain line every {@code every} steps otherwise. Other events are
 * printed as lines in both modes.
 */
public final class ProgressDisplay {

    /** Display modes. */
    public enum Mode { BAR, LINES, OFF }

    private final PrintStream out;
    private final Mode mode;
    private final long every;
    private final java.util.function.LongSupplier clock;
    private long startNanos;
    private long firstStep = -1;
    private boolean barShown;

    /** Creates a display. */
    public ProgressDisplay(PrintStream out, Mode mode, long every) {
        this(out, mode, every, System::nanoTime);
    }

    /** Creates a display reading time from {@code clock} (nanoseconds). */
    ProgressDisplay(PrintStream out, Mode mode, long every, java.util.function.LongSupplier clock) {
        this.out = out;
        this.mode = mode;
        this.every = Math.max(1, every);
        this.clock = clock;
        this.startNanos = clock.getAsLong();
    }

    /** Picks a mode from a setting: {@code auto} means a bar on a terminal, lines otherwise. */
    public static Mode mode(String setting) {
        return switch (setting.toLowerCase(Locale.ROOT)) {
            case "bar" -> Mode.BAR;
            case "lines" -> Mode.LINES;
            case "off" -> Mode.OFF;
            default -> System.console() != null ? Mode.BAR : Mode.LINES;
        };
    }

    /** Consumes one event-log record. */
    public synchronized void accept(Map<String, Object> rec) {
        if (mode == Mode.OFF) {
            return;
        }
        if (!"step".equals(rec.get("type"))) {
            if ("stage-started".equals(rec.get("type")) || "resumed".equals(rec.get("type"))) {
                // the ETA is per stage: its steps count from here
                firstStep = -1;
                startNanos = clock.getAsLong();
            }
            if (barShown) {
                out.print("\r\033[2K");
                barShown = false;
            }
            Map<String, Object> copy = new java.util.LinkedHashMap<>(rec);
            copy.remove("time");
            out.println("[" + copy.remove("type") + "] " + copy);
            return;
        }
        long step = ((Number) rec.get("step")).longValue();
        long of = rec.get("of") instanceof Number n ? n.longValue() : 0;
        if (firstStep < 0) {
            firstStep = step - 1;
        }
        double elapsed = (clock.getAsLong() - startNanos) / 1e9;
        double perStep = elapsed / Math.max(1, step - firstStep);
        double eta = of > 0 ? perStep * (of - step) : 0;
        String figures = String.format(Locale.ROOT, "step %d/%d  loss %.4f  %.0f tok/s  eta %s", step, of,
                number(rec.get("loss")), number(rec.get("tokens-per-s")), clock(eta));
        if (mode == Mode.BAR) {
            int width = 24;
            int filled = of > 0 ? (int) Math.min(width, width * step / of) : 0;
            out.print("\r\033[2K[" + "#".repeat(filled) + " ".repeat(width - filled) + "] " + figures);
            out.flush();
            barShown = true;
            if (step == of) {
                out.println();
                barShown = false;
            }
        } else if (step % every == 0 || step == of) {
            out.println(figures);
        }
    }

    private static double number(Object o) {
        return o instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    private static String clock(double seconds) {
        long s = Math.round(seconds);
        return String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
