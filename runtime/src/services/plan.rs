use crate::spec::{ContainerSpec, Op};

/// What to evaluate before a service starts, and the command it runs.
pub struct ServicePlan {
    /// The pipeline whose result the service container starts from.
    pub base: ContainerSpec,
    /// The service's command; `None` runs the image's default.
    pub command: Option<Vec<String>>,
}

/// With explicit arguments, the whole pipeline runs first and the service
/// runs the arguments. Without, the last `with-exec` is the service's command
/// (as in Dagger): it is not run as a step, since it never ends.
pub fn plan(container: &ContainerSpec, args: Option<&[String]>) -> ServicePlan {
    if let Some(args) = args {
        return ServicePlan {
            base: container.clone(),
            command: Some(args.to_vec()),
        };
    }
    let ops = container.ops();
    let Some(last_exec) = ops.iter().rposition(|op| matches!(op, Op::Exec(_))) else {
        return ServicePlan {
            base: container.clone(),
            command: None,
        };
    };
    let command = match &ops[last_exec] {
        Op::Exec(args) => Some(args.to_vec()),
        _ => None,
    };
    let base = ops
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != last_exec)
        .fold(ContainerSpec::new(container.address()), |spec, (_, op)| {
            spec.with(op.clone())
        });
    ServicePlan { base, command }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(args: &[&str]) -> Op {
        Op::Exec(
            args.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .into(),
        )
    }

    #[test]
    fn the_last_exec_becomes_the_command() {
        let container = ContainerSpec::new("python")
            .with(exec(&["mkdir", "/srv"]))
            .with(exec(&["python", "-m", "http.server"]))
            .with(Op::Workdir("/srv".into()));
        let plan = plan(&container, None);
        assert_eq!(
            plan.command,
            Some(vec!["python".into(), "-m".into(), "http.server".into()])
        );
        assert_eq!(plan.base.ops().len(), 2, "mkdir and workdir remain");
    }

    #[test]
    fn explicit_args_run_after_the_whole_pipeline() {
        let container = ContainerSpec::new("busybox").with(exec(&["touch", "/x"]));
        let plan = plan(&container, Some(&["httpd".to_string()]));
        assert_eq!(plan.command, Some(vec!["httpd".to_string()]));
        assert_eq!(plan.base.ops().len(), 1);
    }
}
