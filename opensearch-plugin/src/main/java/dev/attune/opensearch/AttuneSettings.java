package dev.attune.opensearch;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.opensearch.common.settings.SecureSetting;
import org.opensearch.common.settings.Setting;
import org.opensearch.common.settings.Setting.Property;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.core.common.settings.SecureString;

/**
 * The plugin's node settings (opensearch.yml and the keystore). They are read once, when the
 * node starts.
 */
public final class AttuneSettings {
    /** Where Attune listens: an http(s) URL, optionally with a base path. */
    public static final Setting<URI> ENDPOINT = new Setting<>(
        "personalized_search_ranking.service.endpoint",
        "http://127.0.0.1:8080",
        AttuneSettings::parseEndpoint,
        Property.NodeScope
    );

    /** How long one re-ranking call may take, connection included. */
    public static final Setting<TimeValue> TIMEOUT = Setting.timeSetting(
        "personalized_search_ranking.service.timeout",
        TimeValue.timeValueSeconds(2),
        TimeValue.timeValueMillis(1),
        Property.NodeScope
    );

    /** The key Attune requires (its {@code api_key}), sent as {@code x-api-key}; keystore only. */
    public static final Setting<SecureString> API_KEY = SecureSetting.secureString(
        "personalized_search_ranking.service.api_key",
        null
    );

    /**
     * Amazon's plugin's keystore settings (its AWS credentials). A node migrated from Amazon's
     * plugin still holds them, and OpenSearch refuses to start with unregistered secure
     * settings: they are registered, never read, and named in one log line at start.
     */
    public static final List<Setting<SecureString>> AMAZON_KEYSTORE = List.of(
        SecureSetting.secureString("personalized_search_ranking.aws.access_key", null),
        SecureSetting.secureString("personalized_search_ranking.aws.secret_key", null),
        SecureSetting.secureString("personalized_search_ranking.aws.session_token", null)
    );

    /** Every setting, for {@code Plugin.getSettings}. */
    public static final List<Setting<?>> ALL = List.of(
        ENDPOINT,
        TIMEOUT,
        API_KEY,
        AMAZON_KEYSTORE.get(0),
        AMAZON_KEYSTORE.get(1),
        AMAZON_KEYSTORE.get(2)
    );

    private AttuneSettings() {}

    /**
     * Parses an endpoint: an absolute http or https URL with a host, no query, fragment or user
     * info.
     */
    static URI parseEndpoint(String value) {
        String hint = "personalized_search_ranking.service.endpoint must be an http(s) URL such as "
            + "http://127.0.0.1:8080, found ["
            + value
            + "]";
        URI uri;
        try {
            uri = new URI(value.trim());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException(hint + ": " + e.getMessage(), e);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException(hint);
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw new IllegalArgumentException(hint + ": no host");
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null || uri.getRawUserInfo() != null) {
            throw new IllegalArgumentException(hint + ": no query, fragment or user info allowed");
        }
        return uri;
    }

    /** The URL of {@code POST /opensearch/rerank} under an endpoint (keeping its base path). */
    static URI rerankUri(URI endpoint) {
        String path = endpoint.getRawPath() == null ? "" : endpoint.getRawPath();
        if (!path.endsWith("/")) {
            path = path + "/";
        }
        return endpoint.resolve(path + "opensearch/rerank");
    }

    /** Which of Amazon's keystore settings the node has (their names, never their values). */
    static List<String> amazonKeystoreSettings(Settings settings) {
        List<String> present = new ArrayList<>();
        for (Setting<SecureString> setting : AMAZON_KEYSTORE) {
            if (setting.exists(settings)) {
                present.add(setting.getKey());
            }
        }
        return present;
    }

    /** The API key in the keystore, or null (the keystore can only be read while the node starts). */
    static String apiKey(Settings settings) {
        if (!API_KEY.exists(settings)) {
            return null;
        }
        try (SecureString key = API_KEY.get(settings)) {
            String s = key.toString();
            return s.isEmpty() ? null : s;
        }
    }
}
