package org.distillery.it;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * Builds method-bundle jars the way a researcher would: Java sources compiled against the
 * distribution's lib/, a manifest with the OSGi headers and {@code Distillery-Module}, and a
 * {@code reference.conf} with the contribution's defaults.
 */
final class SamplePlugin {

    private SamplePlugin() {
    }

    /**
     * A bundle providing the loss {@code sample.scaled-ce}: cross-entropy on the targets times
     * {@code scale}, whose default is the bundle's major version (so versions differ in value).
     */
    static Path scaledCe(Path lib, Path out, int version) throws IOException {
        String pkg = "org.acme.sample.internal";
        String module = """
                package org.acme.sample.internal;
                import com.google.inject.AbstractModule;
                import com.google.inject.multibindings.MapBinder;
                import org.distillery.api.loss.LossFactory;
                public final class SampleModule extends AbstractModule {
                    @Override protected void configure() {
                        MapBinder.newMapBinder(binder(), String.class, LossFactory.class)
                                .addBinding("sample.scaled-ce").to(ScaledCe.class);
                    }
                }
                """;
        String loss = """
                package org.acme.sample.internal;
                import java.util.Set;
                import com.typesafe.config.Config;
                import ai.djl.ndarray.NDArray;
                import org.distillery.api.loss.*;
                import org.distillery.kit.loss.Scalars;
                public final class ScaledCe implements LossFactory {
                    @Override public String description() { return "sample v%d: cross-entropy times scale"; }
                    @Override public Loss create(LossContext context, Config params) {
                        float scale = (float) params.getDouble("scale");
                        return new Loss() {
                            @Override public Set<Need> needs() { return Set.of(); }
                            @Override public LossValue compute(LossInput in) {
                                NDArray logp = in.studentLogits().logSoftmax(-1);
                                NDArray picked = logp.gather(in.batch().targets().expandDims(-1), -1).squeeze(-1);
                                NDArray mask = in.batch().lossMask();
                                NDArray sum = picked.mul(mask).sum().neg();
                                return new LossValue(sum.mul(Scalars.of(sum, scale)), (long) mask.sum().getFloat());
                            }
                        };
                    }
                }
                """.formatted(version);
        String reference = "distillery.losses.\"sample.scaled-ce\" { scale = " + version + ".0 }\n";
        Map<String, String> headers = Map.of(
                "Bundle-ManifestVersion", "2",
                "Bundle-SymbolicName", "org.acme.sample",
                "Bundle-Version", version + ".0.0",
                "Import-Package", "org.distillery.api.loss,org.distillery.api.data,org.distillery.kit.loss,"
                        + "com.google.inject,com.google.inject.binder,com.google.inject.multibindings,"
                        + "com.typesafe.config,ai.djl.ndarray",
                "Distillery-Module", pkg + ".SampleModule");
        return build(lib, out.resolve("sample-v" + version + ".jar"),
                Map.of("SampleModule", module, "ScaledCe", loss), pkg, headers, reference);
    }

    /**
     * A bundle providing the loss {@code sample.throwing-ce}: cross-entropy that throws an
     * {@link IllegalStateException} on its {@code throwAt}-th computation (one per step at grad-accum 1).
     */
    static Path throwingCe(Path lib, Path out, int throwAt) throws IOException {
        String pkg = "org.acme.throwing.internal";
        String module = """
                package org.acme.throwing.internal;
                import com.google.inject.AbstractModule;
                import com.google.inject.multibindings.MapBinder;
                import org.distillery.api.loss.LossFactory;
                public final class ThrowingModule extends AbstractModule {
                    @Override protected void configure() {
                        MapBinder.newMapBinder(binder(), String.class, LossFactory.class)
                                .addBinding("sample.throwing-ce").to(ThrowingCe.class);
                    }
                }
                """;
        String loss = """
                package org.acme.throwing.internal;
                import java.util.Set;
                import java.util.concurrent.atomic.AtomicInteger;
                import com.typesafe.config.Config;
                import ai.djl.ndarray.NDArray;
                import org.distillery.api.loss.*;
                public final class ThrowingCe implements LossFactory {
                    private static final AtomicInteger CALLS = new AtomicInteger();
                    @Override public String description() { return "cross-entropy that throws on call %d"; }
                    @Override public Loss create(LossContext context, Config params) {
                        return new Loss() {
                            @Override public Set<Need> needs() { return Set.of(); }
                            @Override public LossValue compute(LossInput in) {
                                if (CALLS.incrementAndGet() == %d) {
                                    throw new IllegalStateException("the loss broke on purpose");
                                }
                                NDArray logp = in.studentLogits().logSoftmax(-1);
                                NDArray picked = logp.gather(in.batch().targets().expandDims(-1), -1).squeeze(-1);
                                NDArray mask = in.batch().lossMask();
                                return new LossValue(picked.mul(mask).sum().neg(), (long) mask.sum().getFloat());
                            }
                        };
                    }
                }
                """.formatted(throwAt, throwAt);
        Map<String, String> headers = Map.of(
                "Bundle-ManifestVersion", "2",
                "Bundle-SymbolicName", "org.acme.throwing",
                "Bundle-Version", "1.0.0",
                "Import-Package", "org.distillery.api.loss,org.distillery.api.data,"
                        + "com.google.inject,com.google.inject.binder,com.google.inject.multibindings,"
                        + "com.typesafe.config,ai.djl.ndarray",
                "Distillery-Module", pkg + ".ThrowingModule");
        return build(lib, out.resolve("throwing.jar"), Map.of("ThrowingModule", module, "ThrowingCe", loss), pkg,
                headers, null);
    }

    /** A bundle whose activator's stop never returns. */
    static Path hangingStop(Path lib, Path out) throws IOException {
        String pkg = "org.acme.hang";
        String activator = """
                package org.acme.hang;
                import org.osgi.framework.*;
                public final class Activator implements BundleActivator {
                    @Override public void start(BundleContext c) { }
                    @Override public void stop(BundleContext c) {
                        while (true) {
                            try {
                                Thread.sleep(60_000);
                            } catch (InterruptedException ignored) {
                                // a badly written bundle: keeps waiting
                            }
                        }
                    }
                }
                """;
        Map<String, String> headers = Map.of(
                "Bundle-ManifestVersion", "2",
                "Bundle-SymbolicName", "org.acme.hang",
                "Bundle-Version", "1.0.0",
                "Import-Package", "org.osgi.framework",
                "Bundle-Activator", pkg + ".Activator");
        return build(lib, out.resolve("hang.jar"), Map.of("Activator", activator), pkg, headers, null);
    }

    /** A bundle whose activator starts a (non-daemon) thread and never ends it. */
    static Path leakyThread(Path lib, Path out) throws IOException {
        String pkg = "org.acme.leaky";
        String activator = """
                package org.acme.leaky;
                import org.osgi.framework.*;
                public final class Activator implements BundleActivator {
                    @Override public void start(BundleContext c) {
                        Thread t = new Thread(Activator::work, "acme-leaky-worker");
                        t.start();
                    }
                    private static void work() {
                        while (true) {
                            try {
                                Thread.sleep(1000);
                            } catch (InterruptedException ignored) {
                                // keeps going
                            }
                        }
                    }
                    @Override public void stop(BundleContext c) { }
                }
                """;
        Map<String, String> headers = Map.of(
                "Bundle-ManifestVersion", "2",
                "Bundle-SymbolicName", "org.acme.leaky",
                "Bundle-Version", "1.0.0",
                "Import-Package", "org.osgi.framework",
                "Bundle-Activator", pkg + ".Activator");
        return build(lib, out.resolve("leaky.jar"), Map.of("Activator", activator), pkg, headers, null);
    }

    /** A bundle whose activator throws on start. */
    static Path throwingActivator(Path lib, Path out) throws IOException {
        String pkg = "org.acme.broken";
        String activator = """
                package org.acme.broken;
                import org.osgi.framework.*;
                public final class Activator implements BundleActivator {
                    @Override public void start(BundleContext c) { throw new IllegalStateException("broken on purpose"); }
                    @Override public void stop(BundleContext c) { }
                }
                """;
        Map<String, String> headers = Map.of(
                "Bundle-ManifestVersion", "2",
                "Bundle-SymbolicName", "org.acme.broken",
                "Bundle-Version", "1.0.0",
                "Import-Package", "org.osgi.framework",
                "Bundle-Activator", pkg + ".Activator");
        return build(lib, out.resolve("broken.jar"), Map.of("Activator", activator), pkg, headers, null);
    }

    private static Path build(Path lib, Path jar, Map<String, String> sources, String pkg, Map<String, String> headers,
                              String reference) throws IOException {
        Path src = Files.createTempDirectory("plugin-src");
        Path classes = Files.createTempDirectory("plugin-classes");
        List<String> files = new ArrayList<>();
        for (Map.Entry<String, String> e : sources.entrySet()) {
            Path f = src.resolve(e.getKey() + ".java");
            Files.writeString(f, e.getValue());
            files.add(f.toString());
        }
        String classpath;
        try (Stream<Path> s = Files.list(lib)) {
            classpath = String.join(java.io.File.pathSeparator, s.map(Path::toString).toList());
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        List<String> args = new ArrayList<>(List.of("--release", "17", "-proc:none", "-cp", classpath,
                "-d", classes.toString()));
        args.addAll(files);
        if (javac.run(null, null, null, args.toArray(String[]::new)) != 0) {
            throw new IllegalStateException("sample plugin does not compile");
        }
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        headers.forEach((k, v) -> mf.getMainAttributes().putValue(k, v));
        Files.createDirectories(jar.getParent());
        try (OutputStream os = Files.newOutputStream(jar); JarOutputStream jos = new JarOutputStream(os, mf)) {
            Path pkgDir = classes.resolve(pkg.replace('.', '/'));
            try (Stream<Path> s = Files.list(pkgDir)) {
                for (Path c : (Iterable<Path>) s.sorted()::iterator) {
                    jos.putNextEntry(new JarEntry(pkg.replace('.', '/') + "/" + c.getFileName()));
                    jos.write(Files.readAllBytes(c));
                    jos.closeEntry();
                }
            }
            if (reference != null) {
                jos.putNextEntry(new JarEntry("reference.conf"));
                jos.write(reference.getBytes(StandardCharsets.UTF_8));
                jos.closeEntry();
            }
        }
        return jar;
    }
}
