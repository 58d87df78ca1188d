package dev.attune.opensearch;

import java.net.URI;
import java.util.List;
import java.util.Map;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.opensearch.common.settings.Setting;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.core.ParseField;
import org.opensearch.plugins.Plugin;
import org.opensearch.plugins.SearchPipelinePlugin;
import org.opensearch.plugins.SearchPlugin;
import org.opensearch.search.pipeline.Processor;
import org.opensearch.search.pipeline.SearchResponseProcessor;

/**
 * Attune's drop-in replacement for Amazon's "Personalize Search Ranking" plugin: the
 * {@code personalized_search_ranking} search response processor and the
 * {@code ext.personalize_request_parameters} search extension, re-ranking hits with a
 * self-hosted Attune server ({@link AttuneSettings}).
 */
public class AttunePersonalizeRankingPlugin extends Plugin implements SearchPipelinePlugin, SearchPlugin {
    private static final Logger logger = LogManager.getLogger(AttunePersonalizeRankingPlugin.class);

    private final AttuneClient client;

    /**
     * Reads the node settings, the keystore's API key included (the keystore closes once the
     * node has started), and makes the node's one HTTP client.
     *
     * @param settings the node settings
     */
    public AttunePersonalizeRankingPlugin(Settings settings) {
        URI endpoint = AttuneSettings.ENDPOINT.get(settings);
        TimeValue timeout = AttuneSettings.TIMEOUT.get(settings);
        String apiKey = AttuneSettings.apiKey(settings);
        this.client = new AttuneClient(endpoint, timeout, apiKey);
        logger.info(
            "personalized_search_ranking re-ranks with Attune at [{}] (timeout {}, api key {})",
            client.rerankUri(),
            timeout,
            apiKey == null ? "not set" : "set"
        );
        List<String> amazon = AttuneSettings.amazonKeystoreSettings(settings);
        if (!amazon.isEmpty()) {
            logger.warn(
                "ignoring Amazon's keystore settings {}: Attune needs no AWS credentials "
                    + "(remove them with bin/opensearch-keystore remove <name>)",
                amazon
            );
        }
    }

    @Override
    public List<Setting<?>> getSettings() {
        return AttuneSettings.ALL;
    }

    @Override
    public Map<String, Processor.Factory<SearchResponseProcessor>> getResponseProcessors(Parameters parameters) {
        return Map.of(
            ProcessorConfig.TYPE,
            new PersonalizedSearchRankingProcessor.Factory(client, parameters.threadContext)
        );
    }

    @Override
    public List<SearchExtSpec<?>> getSearchExts() {
        return List.of(
            new SearchExtSpec<>(
                new ParseField(PersonalizeRequestParameters.NAME),
                PersonalizeRequestParameters::new,
                PersonalizeRequestParameters::parse
            )
        );
    }

    @Override
    public void close() {
        client.close();
    }
}
