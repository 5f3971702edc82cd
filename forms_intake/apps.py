from django.apps import AppConfig


class FormsIntakeConfig(AppConfig):
    name = "forms_intake"
    verbose_name = "Intake forms"

    def ready(self) -> None:
        from bookings.console.day_at_a_glance import Counted, CountSource, count_source_register
        from bookings.inbox.deliveries import delivery_handler_register
        from forms_intake.models import FormSubmission, SubmissionStatus
        from forms_intake.processing import jotform_delivery_process
        from forms_intake.selectors import submissions_visible_to

        delivery_handler_register(source="jotform", handler=jotform_delivery_process)
        count_source_register(
            CountSource(
                position=30,
                key="submissions",
                title="Form submissions",
                model=FormSubmission,
                rows=lambda user: submissions_visible_to(user=user),
                counted=(
                    Counted(
                        "glance-submissions-needs-attention",
                        "Needing attention",
                        "status",
                        SubmissionStatus.NEEDS_ATTENTION,
                    ),
                    Counted("glance-submissions-unmatched", "Unmatched", "status", SubmissionStatus.UNMATCHED),
                ),
            )
        )
