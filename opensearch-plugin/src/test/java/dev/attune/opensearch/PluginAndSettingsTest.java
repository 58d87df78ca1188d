package dev.attune.opensearch;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.Test;
import org.opensearch.common.settings.SecureSettings;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.common.util.concurrent.ThreadContext;
import org.opensearch.core.common.settings.SecureString;
import org.opensearch.plugins.SearchPipelinePlugin;
import org.opensearch.plugins.SearchPlugin;

/** The node settings and what the plugin registers. */
public class PluginAndSettingsTest {
    /** A keystore holding one string setting. */
    private static final class Keystore implements SecureSettings {
        private final String name;
        private final String value;

        Keystore(String name, String value) {
            this.name = name;
            this.value = value;
        }

        @Override
        public boolean isLoaded() {
            return true;
        }

        @Override
        public Set<String> getSettingNames() {
            return Set.of(name);
        }

        @Override
        public SecureString getString(String setting) {
            return new SecureString(value.toCharArray());
        }

        @Override
        public InputStream getFile(String setting) {
            return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public byte[] getSHA256Digest(String setting) {
            return new byte[32];
        }

        @Override
        public void close() {}
    }

    @Test
    public void defaults() {
        assertEquals(URI.create("http://127.0.0.1:8080"), AttuneSettings.ENDPOINT.get(Settings.EMPTY));
        assertEquals(TimeValue.timeValueSeconds(2), AttuneSettings.TIMEOUT.get(Settings.EMPTY));
        assertNull(AttuneSettings.apiKey(Settings.EMPTY));
        assertEquals(
            URI.create("http://127.0.0.1:8080/opensearch/rerank"),
            AttuneSettings.rerankUri(AttuneSettings.ENDPOINT.get(Settings.EMPTY))
        );
    }

    @Test
    public void endpointsAreHttpUrls() {
        Settings ok = Settings.builder()
            .put("personalized_search_ranking.service.endpoint", "https://attune.internal:9443/base")
            .put("personalized_search_ranking.service.timeout", "750ms")
            .build();
        URI endpoint = AttuneSettings.ENDPOINT.get(ok);
        assertEquals(URI.create("https://attune.internal:9443/base/opensearch/rerank"), AttuneSettings.rerankUri(endpoint));
        assertEquals(URI.create("http://h/x/opensearch/rerank"), AttuneSettings.rerankUri(URI.create("http://h/x/")));
        assertEquals(TimeValue.timeValueMillis(750), AttuneSettings.TIMEOUT.get(ok));
        for (String bad : new String[] { "ftp://h:21", "localhost:8080", "http://", "http://h:1/?q=1", "http://u:p@h:1", "not a url" }) {
            Settings s = Settings.builder().put("personalized_search_ranking.service.endpoint", bad).build();
            IllegalArgumentException e = assertThrows(bad, IllegalArgumentException.class, () -> AttuneSettings.ENDPOINT.get(s));
            StringBuilder messages = new StringBuilder();
            for (Throwable t = e; t != null; t = t.getCause()) {
                messages.append(t.getMessage()).append(" / ");
            }
            assertTrue(bad + ": " + messages, messages.toString().contains("must be an http(s) URL"));
        }
        Settings zero = Settings.builder().put("personalized_search_ranking.service.timeout", "0s").build();
        assertThrows(IllegalArgumentException.class, () -> AttuneSettings.TIMEOUT.get(zero));
    }

    @Test
    public void theApiKeyComesFromTheKeystore() {
        Settings s = Settings.builder().setSecureSettings(new Keystore("personalized_search_ranking.service.api_key", "k-123")).build();
        assertEquals("k-123", AttuneSettings.apiKey(s));
        try (AttunePersonalizeRankingPlugin plugin = new AttunePersonalizeRankingPlugin(s)) {
            assertEquals(6, plugin.getSettings().size());
        }
    }

    @Test
    public void amazonsKeystoreSettingsAreRegisteredAndNamedButNeverRead() {
        Settings s = Settings.builder().setSecureSettings(new Keystore("personalized_search_ranking.aws.secret_key", "aws-secret")).build();
        assertEquals(List.of("personalized_search_ranking.aws.secret_key"), AttuneSettings.amazonKeystoreSettings(s));
        assertEquals(List.of(), AttuneSettings.amazonKeystoreSettings(Settings.EMPTY));
        assertNull(AttuneSettings.apiKey(s));
        try (AttunePersonalizeRankingPlugin plugin = new AttunePersonalizeRankingPlugin(s)) {
            for (String name : List.of("access_key", "secret_key", "session_token")) {
                assertTrue(
                    name,
                    plugin.getSettings().stream().anyMatch(x -> x.getKey().equals("personalized_search_ranking.aws." + name))
                );
            }
        }
    }

    @Test
    public void registersTheProcessorAndTheExtension() throws Exception {
        try (AttunePersonalizeRankingPlugin plugin = new AttunePersonalizeRankingPlugin(Settings.EMPTY)) {
            assertTrue(plugin.getSettings().containsAll(List.of(AttuneSettings.ENDPOINT, AttuneSettings.TIMEOUT, AttuneSettings.API_KEY)));
            SearchPipelinePlugin.Parameters parameters = new SearchPipelinePlugin.Parameters(
                null,
                null,
                null,
                new ThreadContext(Settings.EMPTY),
                System::nanoTime,
                null,
                null,
                null,
                Runnable::run,
                null
            );
            Map<String, ?> processors = plugin.getResponseProcessors(parameters);
            assertEquals(Set.of("personalized_search_ranking"), processors.keySet());
            assertTrue(plugin.getRequestProcessors(parameters).isEmpty());
            List<SearchPlugin.SearchExtSpec<?>> exts = plugin.getSearchExts();
            assertEquals(1, exts.size());
            assertEquals("personalize_request_parameters", exts.get(0).getName().getPreferredName());
        }
    }
}
