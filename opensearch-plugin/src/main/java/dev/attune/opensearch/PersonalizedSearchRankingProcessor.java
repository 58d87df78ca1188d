package dev.attune.opensearch;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.opensearch.OpenSearchStatusException;
import org.opensearch.action.search.SearchRequest;
import org.opensearch.action.search.SearchResponse;
import org.opensearch.action.search.SearchResponseSections;
import org.opensearch.action.support.ContextPreservingActionListener;
import org.opensearch.common.document.DocumentField;
import org.opensearch.common.util.concurrent.ThreadContext;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.core.action.ActionListener;
import org.opensearch.core.common.bytes.BytesReference;
import org.opensearch.core.rest.RestStatus;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.search.SearchHit;
import org.opensearch.search.SearchHits;
import org.opensearch.search.pipeline.AbstractProcessor;
import org.opensearch.search.pipeline.PipelineProcessingContext;
import org.opensearch.search.pipeline.Processor;
import org.opensearch.search.pipeline.SearchResponseProcessor;
import org.opensearch.search.profile.ProfileShardResult;
import org.opensearch.search.profile.SearchProfileShardResults;
import org.opensearch.search.sort.ScoreSortBuilder;
import org.opensearch.search.sort.SortBuilder;
import org.opensearch.search.sort.SortOrder;

/**
 * The {@code personalized_search_ranking} search response processor: sends the hits' item ids,
 * in OpenSearch's order, to Attune's {@code POST /opensearch/rerank} with the campaign, weight,
 * user and context, then orders the hits as Attune answers and gives each its blended score
 * ({@code (1-w)/log2(r_os+1) + w/log2(r_p+1)}, computed by Attune).
 *
 * <p>A page after the first (the search's {@code from} above 0) is blended with its global
 * positions: the body carries {@code "from"} and Attune shifts every rank by it, so the page's
 * scores sit below the previous page's. Hits are reordered only within their page; no item
 * moves between pages. A first page sends no {@code "from"}.
 *
 * <p>Weight 0, no hits, or a search sorted by anything but {@code _score} (descending) first: the
 * response is returned untouched, without a call. Otherwise the search must carry
 * {@code ext.personalize_request_parameters.user_id}, and at least one hit an item id (else the
 * processor fails naming {@code item_id_field}, and {@code ignore_failure} decides). The call is
 * asynchronous (one of the client's threads makes it); its result is applied on that thread,
 * with the search's thread context. Everything else of the response (total hits, aggregations, suggestions,
 * profile, shards, scroll and PIT ids, phase took, response ext) is kept; {@code took} grows by
 * the call's time.
 */
public final class PersonalizedSearchRankingProcessor extends AbstractProcessor implements SearchResponseProcessor {
    private static final Logger logger = LogManager.getLogger(PersonalizedSearchRankingProcessor.class);

    /** The message of a search without a user id reaching a processor with weight above 0. */
    static final String MISSING_USER = "[user_id] required Personalize request parameter is missing: a search through a "
        + ProcessorConfig.TYPE
        + " processor with weight above 0 needs ext."
        + PersonalizeRequestParameters.NAME
        + ".user_id";

    private final ProcessorConfig config;
    private final AttuneClient client;
    private final ThreadContext threadContext;

    PersonalizedSearchRankingProcessor(
        String tag,
        String description,
        boolean ignoreFailure,
        ProcessorConfig config,
        AttuneClient client,
        ThreadContext threadContext
    ) {
        super(tag, description, ignoreFailure);
        this.config = config;
        this.client = client;
        this.threadContext = threadContext;
    }

    @Override
    public String getType() {
        return ProcessorConfig.TYPE;
    }

    /** The processor's configuration. */
    public ProcessorConfig config() {
        return config;
    }

    /**
     * The synchronous form, for callers that need one (OpenSearch's pipelines use
     * {@link #processResponseAsync}): waits for the asynchronous call.
     */
    @Override
    public SearchResponse processResponse(SearchRequest request, SearchResponse response) throws Exception {
        CompletableFuture<SearchResponse> result = new CompletableFuture<>();
        processResponseAsync(request, response, null, ActionListener.wrap(result::complete, result::completeExceptionally));
        try {
            return result.get(client.timeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception ? (Exception) e.getCause() : e;
        } catch (TimeoutException e) {
            throw new OpenSearchStatusException("Attune did not answer in time", RestStatus.GATEWAY_TIMEOUT, e);
        }
    }

    @Override
    public void processResponseAsync(
        SearchRequest request,
        SearchResponse response,
        PipelineProcessingContext requestContext,
        ActionListener<SearchResponse> responseListener
    ) {
        SearchHit[] hits = response.getHits() == null ? new SearchHit[0] : response.getHits().getHits();
        if (config.weight() == 0.0 || hits.length == 0 || sortedByField(request)) {
            responseListener.onResponse(response);
            return;
        }
        byte[] body;
        try {
            PersonalizeRequestParameters params = PersonalizeRequestParameters.of(request);
            String userId = params == null ? null : params.getUserId();
            if (userId == null || userId.trim().isEmpty()) {
                throw new IllegalArgumentException(MISSING_USER);
            }
            List<Object> ids = itemIds(hits, config.itemIdField());
            if (ids.stream().allMatch(id -> id == null)) {
                throw noItemIds(hits.length, config.itemIdField());
            }
            body = requestBody(config, userId, params.getContext(), ids, from(request));
        } catch (Exception e) {
            responseListener.onFailure(e);
            return;
        }
        ActionListener<SearchResponse> listener = threadContext == null
            ? responseListener
            : ContextPreservingActionListener.wrapPreservingContext(responseListener, threadContext);
        long start = System.nanoTime();
        // Finished on the client's thread that made the call: no further hand-off (a future's
        // callback could run on this search thread instead, when the call finishes first).
        client.rerank(body, hits.length, (reranked, error) -> finish(response, reranked, error, start, listener));
    }

    private void finish(
        SearchResponse response,
        AttuneClient.Reranked reranked,
        Throwable error,
        long start,
        ActionListener<SearchResponse> listener
    ) {
        SearchResponse result;
        try {
            if (error != null) {
                throw error;
            }
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            result = apply(response, reranked, tookMillis);
            if (logger.isDebugEnabled()) {
                logger.debug(
                    "[{}] re-ranked {} hits ({} blended) with campaign [{}] weight {} in {}ms",
                    getTag(),
                    reranked.order.length,
                    reranked.reranked,
                    config.campaignArn(),
                    config.weight(),
                    tookMillis
                );
            }
        } catch (Throwable t) {
            Throwable cause = t;
            while (cause instanceof CompletionException && cause.getCause() != null) {
                cause = cause.getCause();
            }
            logger.debug("[{}] re-ranking failed: {}", getTag(), cause.getMessage());
            listener.onFailure(cause instanceof Exception ? (Exception) cause : new RuntimeException(cause));
            return;
        }
        listener.onResponse(result);
    }

    /**
     * Whether the search is sorted by something other than {@code _score} (descending) first:
     * its hits are in that sort's order, which a blend with relevance ranks would break, so
     * they pass through unchanged.
     */
    static boolean sortedByField(SearchRequest request) {
        if (request == null || request.source() == null) {
            return false;
        }
        List<SortBuilder<?>> sorts = request.source().sorts();
        if (sorts == null || sorts.isEmpty()) {
            return false;
        }
        SortBuilder<?> first = sorts.get(0);
        return !(first instanceof ScoreSortBuilder) || first.order() != SortOrder.DESC;
    }

    /** The failure of a search whose hits carry no item id: the configuration names a field they lack. */
    static OpenSearchStatusException noItemIds(int hits, String field) {
        return new OpenSearchStatusException(
            "[item_id_field] none of the "
                + hits
                + " hits has an item id in the field ["
                + field
                + "] (a string or a number in _source or in the hit's fields): check the processor's "
                + "item_id_field, that the documents carry it and that the search does not filter it out of _source",
            RestStatus.INTERNAL_SERVER_ERROR
        );
    }

    /**
     * The hits' item ids in order: a string, a number (Attune reads its JSON text) or null for a
     * hit without one.
     */
    static List<Object> itemIds(SearchHit[] hits, String field) {
        List<Object> ids = new ArrayList<>(hits.length);
        for (SearchHit hit : hits) {
            ids.add(itemId(hit, field));
        }
        return ids;
    }

    /**
     * A hit's item id: its {@code _id}, or the {@code _source} field (by its exact name, else as a
     * dotted path through nested objects), else the hit's fetched field of that name.
     */
    static Object itemId(SearchHit hit, String field) {
        Object value = null;
        if (ProcessorConfig.DOCUMENT_ID.equals(field)) {
            value = hit.getId();
        } else {
            boolean found = false;
            if (hit.hasSource()) {
                Map<String, Object> source = hit.getSourceAsMap();
                if (source != null && source.containsKey(field)) {
                    value = source.get(field);
                    found = true;
                } else if (source != null) {
                    Object at = source;
                    for (String key : field.split("\\.", -1)) {
                        at = at instanceof Map ? ((Map<?, ?>) at).get(key) : null;
                    }
                    value = at;
                    found = at != null;
                }
            }
            if (!found) {
                DocumentField fetched = hit.field(field);
                if (fetched != null && fetched.getValues() != null && fetched.getValues().size() == 1) {
                    value = fetched.getValue();
                }
            }
        }
        if (value instanceof String) {
            return ((String) value).isEmpty() ? null : value;
        }
        return value instanceof Number ? value : null;
    }

    /** The search's {@code from}: 0 when unset (-1) or without a source. */
    static int from(SearchRequest request) {
        return request == null || request.source() == null ? 0 : Math.max(0, request.source().from());
    }

    /**
     * {@code {"campaignArn", "weight", "userId", "context", "itemIds", "from"}}; {@code context}
     * only when non-empty, {@code from} only when above 0.
     */
    static byte[] requestBody(ProcessorConfig config, String userId, Map<String, String> context, List<Object> itemIds, int from)
        throws IOException {
        try (XContentBuilder b = JsonXContent.contentBuilder()) {
            b.startObject();
            b.field("campaignArn", config.campaignArn());
            b.field("weight", config.weight());
            b.field("userId", userId);
            if (context != null && !context.isEmpty()) {
                b.startObject("context");
                for (Map.Entry<String, String> e : context.entrySet()) {
                    b.field(e.getKey(), e.getValue());
                }
                b.endObject();
            }
            b.startArray("itemIds");
            for (Object id : itemIds) {
                b.value(id);
            }
            b.endArray();
            if (from > 0) {
                b.field("from", from);
            }
            b.endObject();
            return BytesReference.toBytes(BytesReference.bytes(b));
        }
    }

    /** The response with its hits in Attune's order and scores; everything else kept. */
    static SearchResponse apply(SearchResponse response, AttuneClient.Reranked reranked, long tookMillis) {
        SearchHits old = response.getHits();
        SearchHit[] hits = old.getHits();
        SearchHit[] ordered = new SearchHit[hits.length];
        float maxScore = Float.NEGATIVE_INFINITY;
        for (int k = 0; k < hits.length; k++) {
            SearchHit hit = hits[reranked.order[k]];
            float score = (float) reranked.scores[k];
            hit.score(score);
            ordered[k] = hit;
            maxScore = Math.max(maxScore, score);
        }
        SearchHits newHits = new SearchHits(
            ordered,
            old.getTotalHits(),
            maxScore,
            old.getSortFields(),
            old.getCollapseField(),
            old.getCollapseValues()
        );
        SearchResponseSections sections = response.getInternalResponse();
        Map<String, ProfileShardResult> profile = response.getProfileResults();
        SearchResponseSections newSections = new SearchResponseSections(
            newHits,
            response.getAggregations(),
            response.getSuggest(),
            response.isTimedOut(),
            response.isTerminatedEarly(),
            profile == null || profile.isEmpty() ? null : new SearchProfileShardResults(profile),
            response.getNumReducePhases(),
            sections.getSearchExtBuilders(),
            sections.getProcessorResult()
        );
        return new SearchResponse(
            newSections,
            response.getScrollId(),
            response.getTotalShards(),
            response.getSuccessfulShards(),
            response.getSkippedShards(),
            response.getTook().millis() + tookMillis,
            response.getPhaseTook(),
            response.getShardFailures(),
            response.getClusters(),
            response.pointInTimeId()
        );
    }

    /** Makes processors from pipeline configurations (named and inline pipelines alike). */
    public static final class Factory implements Processor.Factory<SearchResponseProcessor> {
        private final AttuneClient client;
        private final ThreadContext threadContext;

        Factory(AttuneClient client, ThreadContext threadContext) {
            this.client = client;
            this.threadContext = threadContext;
        }

        @Override
        public SearchResponseProcessor create(
            Map<String, Processor.Factory<SearchResponseProcessor>> processorFactories,
            String tag,
            String description,
            boolean ignoreFailure,
            Map<String, Object> config,
            Processor.PipelineContext pipelineContext
        ) {
            // Every pipeline shares the node's one client, so inline (ad-hoc) pipelines in a
            // search request cost nothing more than named ones and are allowed.
            ProcessorConfig parsed = ProcessorConfig.read(tag, config);
            return new PersonalizedSearchRankingProcessor(tag, description, ignoreFailure, parsed, client, threadContext);
        }
    }
}
