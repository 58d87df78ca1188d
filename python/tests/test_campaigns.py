"""Campaigns deployed to the store, for a running server to pick up (python/src/store.rs over
sdk/src/store/campaigns.rs)."""

from __future__ import annotations

import attune
import pytest


def test_create_describe_update_delete(trained: attune.Store) -> None:
    arn = trained.list_solution_versions("ranking")[-1]["solutionVersionArn"]
    c = trained.create_campaign("shop-ranking", arn, min_provisioned_tps=2)
    try:
        assert c["status"] == "ACTIVE"
        assert c["solutionVersionArn"] == arn
        assert c["minProvisionedTPS"] == 2
        assert c["campaignArn"].endswith(":campaign/shop-ranking")
        assert trained.campaign("shop-ranking")["campaignArn"] == c["campaignArn"]
        assert [x["name"] for x in trained.list_campaigns("ranking")] == ["shop-ranking"]
        assert trained.list_campaigns("sims") == []
        u = trained.update_campaign("shop-ranking", min_provisioned_tps=5)
        assert u["minProvisionedTPS"] == 5
        assert u["latestCampaignUpdate"]["status"] == "ACTIVE"
        with pytest.raises(attune.AlreadyExistsError):
            trained.create_campaign("shop-ranking", arn)
    finally:
        trained.delete_campaign("shop-ranking")
    with pytest.raises(attune.NotFoundError):
        trained.campaign("shop-ranking")


def test_latest_follows_the_solution(trained: attune.Store) -> None:
    solution_arn = trained.solution("sims")["solutionArn"]
    latest = f"{solution_arn}/$LATEST"
    with pytest.raises(attune.InvalidInputError, match="syncWithLatestSolutionVersion"):
        trained.create_campaign("sims-latest", latest)
    c = trained.create_campaign("sims-latest", latest, sync_with_latest=True)
    try:
        assert c["campaignConfig"]["syncWithLatestSolutionVersion"] is True
        pinned = trained.list_solution_versions("sims")[-1]["solutionVersionArn"]
        u = trained.update_campaign("sims-latest", solution_version=pinned, sync_with_latest=False)
        assert u["solutionVersionArn"] == pinned
        assert u["campaignConfig"]["syncWithLatestSolutionVersion"] is False
    finally:
        trained.delete_campaign("sims-latest")


def test_bad_campaigns(trained: attune.Store) -> None:
    arn = trained.list_solution_versions("ranking")[-1]["solutionVersionArn"]
    with pytest.raises(attune.InvalidInputError, match="minProvisionedTPS"):
        trained.create_campaign("c", arn, min_provisioned_tps=0)
    with pytest.raises(attune.NotFoundError):
        trained.create_campaign("c", arn.rsplit("/", 1)[0] + "/ffffffff")
    with pytest.raises(OverflowError):
        trained.create_campaign("c", arn, min_provisioned_tps=-1)
