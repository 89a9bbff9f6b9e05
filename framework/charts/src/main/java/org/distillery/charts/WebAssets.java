package org.distillery.charts;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The browser files of the charts, read from the class path: uPlot's minified script and style
 * from its WebJar ({@code org.webjars.npm:uplot}, so nothing comes from a CDN), and Distillery's
 * {@code charts.js} and {@code charts.css}.
 */
public final class WebAssets {

    /** uPlot's script (IIFE build, defines {@code window.uPlot}). */
    public static final String UPLOT_JS = "uPlot.iife.min.js";
    /** uPlot's style sheet. */
    public static final String UPLOT_CSS = "uPlot.min.css";
    /** The charts ({@code window.DistillCharts}). */
    public static final String CHARTS_JS = "charts.js";
    /** Styles shared by the report and the dashboard. */
    public static final String CHARTS_CSS = "charts.css";

    private static final String WEBJAR = "META-INF/resources/webjars/uplot/";
    private static final String OWN = "org/distillery/charts/web/";
    private static final Map<String, byte[]> CACHE = new ConcurrentHashMap<>();

    private WebAssets() {
    }

    /** The version of uPlot on the class path (from its WebJar's Maven properties). */
    public static String uplotVersion() {
        try (InputStream in = WebAssets.class.getClassLoader()
                .getResourceAsStream("META-INF/maven/org.webjars.npm/uplot/pom.properties")) {
            if (in == null) {
                throw new IllegalStateException("uPlot's WebJar (org.webjars.npm:uplot) is not on the class path");
            }
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One of the files named by the constants of this class, as bytes. */
    public static byte[] bytes(String name) {
        return CACHE.computeIfAbsent(name, n -> {
            String path = switch (n) {
                case UPLOT_JS, UPLOT_CSS -> WEBJAR + uplotVersion() + "/dist/" + n;
                case CHARTS_JS, CHARTS_CSS -> OWN + n;
                default -> throw new IllegalArgumentException("no such asset: " + n);
            };
            try (InputStream in = WebAssets.class.getClassLoader().getResourceAsStream(path)) {
                if (in == null) {
                    throw new IllegalStateException("missing on the class path: " + path);
                }
                return in.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** One of the files as text. */
    public static String text(String name) {
        return new String(bytes(name), StandardCharsets.UTF_8);
    }
}
