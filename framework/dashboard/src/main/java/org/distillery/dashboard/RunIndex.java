package org.distillery.dashboard;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The run directories under the dashboard's folders, found again at most once a second so new
 * runs appear: each folder given is a run directory itself (it holds {@code config.conf}) or a
 * folder of them. A run's id is its directory's name ({@code ~2}, {@code ~3} appended when
 * two folders hold runs of the same name).
 *
 * <p>Ids that arrive in requests are only ever looked up in this index, never joined to a path:
 * {@link #find} refuses anything that is not a plain name ({@link #ID}), so {@code ..}, slashes,
 * encoded separators and absolute paths reach no file.
 */
final class RunIndex {

    /** What a run id may look like: a file name of letters, digits, dots, dashes, underscores and tildes. */
    static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._~-]{0,200}");

    private static final long RESCAN_MILLIS = 1000;

    private final List<Path> roots;
    private final Map<Path, RunWatch> byDir = new LinkedHashMap<>();
    private Map<String, RunWatch> byId = new LinkedHashMap<>();
    private long scannedAt;

    RunIndex(List<Path> roots) {
        this.roots = roots.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    }

    List<Path> roots() {
        return roots;
    }

    /** The runs, sorted by directory name (which starts with the experiment and the start time). */
    synchronized List<RunWatch> runs() throws IOException {
        rescanIfStale();
        return List.copyOf(byId.values());
    }

    /** The run with this id; empty for unknown ids and for anything that is not a plain name. */
    synchronized Optional<RunWatch> find(String id) throws IOException {
        if (id == null || !ID.matcher(id).matches() || id.contains("..")) {
            return Optional.empty();
        }
        rescanIfStale();
        RunWatch r = byId.get(id);
        if (r == null && System.currentTimeMillis() - scannedAt > 100) {
            // a run that started a moment ago
            scannedAt = 0;
            rescanIfStale();
            r = byId.get(id);
        }
        return Optional.ofNullable(r);
    }

    private void rescanIfStale() throws IOException {
        long now = System.currentTimeMillis();
        if (now - scannedAt < RESCAN_MILLIS) {
            return;
        }
        scannedAt = now;
        List<Path> dirs = new ArrayList<>();
        for (Path root : roots) {
            if (Files.isRegularFile(root.resolve("config.conf"))) {
                dirs.add(root);
                continue;
            }
            if (!Files.isDirectory(root)) {
                continue;
            }
            try (Stream<Path> s = Files.list(root)) {
                s.filter(d -> !d.getFileName().toString().startsWith("."))
                        .filter(d -> Files.isRegularFile(d.resolve("config.conf"))).sorted().forEach(dirs::add);
            }
        }
        Map<String, RunWatch> ids = new LinkedHashMap<>();
        for (Path d : dirs) {
            RunWatch w = byDir.get(d);
            if (w == null) {
                String base = d.getFileName().toString();
                String id = base;
                for (int i = 2; ids.containsKey(id) || !ID.matcher(id).matches(); i++) {
                    id = ID.matcher(base).matches() ? base + "~" + i : "run~" + i;
                }
                w = new RunWatch(id, d);
                byDir.put(d, w);
            }
            ids.put(w.id(), w);
        }
        byDir.keySet().retainAll(dirs);
        byId = ids;
    }
}
